"""Shared helpers for the protocol tests."""

from __future__ import annotations

import json
from pathlib import Path

from promptwitness.model import RawRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protocols"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def request(
    target: str,
    body: bytes | dict[str, object],
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),),
    method: str = "POST",
) -> RawRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawRequest(method, target, headers, raw)
