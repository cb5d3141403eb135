"""Request keys and segments of a run (probe.observe)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from promptwitness.probe.observe import SentRequest, request_map


def _messages(model: str, text: str) -> SentRequest:
    body = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    return SentRequest(
        "POST",
        "/v1/messages?beta=true",
        (
            ("content-type", "application/json"),
            ("x-app", "cli"),
            ("host", "127.0.0.1:8080"),
            ("content-length", "99"),
        ),
        json.dumps(body).encode(),
    )


def test_model_calls_are_keyed_by_method_path_model_and_ordinal() -> None:
    reqs = [
        SentRequest("HEAD", "/", (), b""),
        _messages("claude-haiku", "title?"),
        _messages("claude-sonnet", "hi"),
        _messages("claude-sonnet", "again"),
    ]
    out = request_map(reqs)
    assert list(out) == [
        "HEAD / #0",
        "POST /v1/messages [claude-haiku] #0",
        "POST /v1/messages [claude-sonnet] #0",
        "POST /v1/messages [claude-sonnet] #1",
    ]
    segs = {s.path: s for s in out["POST /v1/messages [claude-sonnet] #1"]}
    assert segs["messages[0].content[0].text"].value == "again"
    assert segs["target"].value == "/v1/messages?beta=true"
    assert segs["target"].channel == "request"
    assert segs["headers.x-app"].value == "cli"
    # transport headers are not the agent's: host follows the endpoint by construction
    assert "headers.host" not in segs and "headers.content-length" not in segs


def test_other_requests_keep_target_headers_and_body() -> None:
    out = request_map(
        [
            SentRequest("POST", "/telemetry?x=1", (("X-Os.Name", "linux"),), b'{"tz":"UTC"}'),
            SentRequest("POST", "/blob", (), b"\xff\xfe binary"),
        ]
    )
    t = {s.path: s for s in out["POST /telemetry #0"]}
    assert t["target"].value == "/telemetry?x=1"
    assert t["headers.x-os\\.name"].value == "linux"  # escaped: '.' is a path separator
    assert t["body"].value == '{"tz":"UTC"}'
    b = {s.path: s for s in out["POST /blob #0"]}
    assert set(b) == {"target", "body.sha256"}
    assert len(b["body.sha256"].value) == 64


def test_invalid_model_body_is_kept_with_its_parse_error() -> None:
    out = request_map([SentRequest("POST", "/v1/messages", (), b"{not json")])
    segs = {s.path: s for s in out["POST /v1/messages #0"]}
    assert segs["body"].value == "{not json"
    assert segs["parse-error"].value


@given(st.lists(st.sampled_from(["a", "b"]), max_size=8))
def test_keys_are_unique_and_ordinals_count_per_base(models: list[str]) -> None:
    out = request_map([_messages(m, "x") for m in models])
    assert len(out) == len(models)
    for m in set(models):
        n = models.count(m)
        assert [k for k in out if f"[{m}]" in k] == [
            f"POST /v1/messages [{m}] #{i}" for i in range(n)
        ]
