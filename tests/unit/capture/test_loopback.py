"""One loopback check for every place that needs one (capture.env.is_loopback_host)."""

from __future__ import annotations

import pytest

from promptwitness.capture.env import CAPTURE_ORIGIN, CAPTURE_PORT, is_loopback_host


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("localhost.evil.com", False),
        ("", False),
        ("::", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_capture_endpoint_is_one_constant() -> None:
    from promptwitness.cli.capture import HERMETIC_PORT
    from promptwitness.probe.factors.base import FactorContext
    from promptwitness.probe.runner import PORT

    assert PORT == HERMETIC_PORT == FactorContext().port == CAPTURE_PORT
    assert f"http://127.0.0.1:{CAPTURE_PORT}" == CAPTURE_ORIGIN
