"""The registry and the package's public names."""

from __future__ import annotations

import promptwitness.protocols as protocols
from promptwitness.protocols import ADAPTERS, detect, register
from promptwitness.protocols.base import ParseOutcome


def test_public_names_are_locked() -> None:
    assert sorted(protocols.__all__) == [
        "ADAPTERS",
        "Adapter",
        "DEFAULT_ANSWER",
        "ParseOutcome",
        "detect",
        "parse_request",
        "rebuild_answer",
        "register",
        "sink_reply",
    ]
    assert protocols.ParseOutcome is ParseOutcome


def test_the_four_adapters_register_themselves() -> None:
    assert sorted(ADAPTERS) == ["anthropic", "gemini", "openai-chat", "openai-responses"]
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name


def test_register_adds_and_detect_finds_a_new_adapter() -> None:
    class Fake:
        name = "fake-test"

        def matches(self, method: str, path: str) -> bool:
            return path == "/fake"

        def parse(self, request: object) -> object:  # pragma: no cover - never called here
            raise NotImplementedError

        wants_stream = canned = rebuild = parse

    fake = Fake()
    try:
        assert register(fake) is fake  # type: ignore[arg-type]
        assert detect("POST", "/fake") is fake
    finally:
        del ADAPTERS["fake-test"]
    assert detect("POST", "/fake") is None


def test_detect_unknown() -> None:
    assert detect("POST", "/v1/embeddings") is None
    assert detect("GET", "/") is None
