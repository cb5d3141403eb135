"""DSSE envelopes and promptwitness statements (sans-IO)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.ledger import dsse, statements
from promptwitness.ledger.note import Signer
from promptwitness.model import Segment


def test_pae_spec_vector() -> None:
    # secure-systems-lab/dsse protocol.md's worked example
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"  # byte lengths


def test_several_signatures_and_every_flipped_byte() -> None:
    a, b = Signer.generate("vendor.example/a"), Signer.generate("vendor.example/b")
    payload = statements.statement_bytes(
        statements.statement([("x", "00" * 32)], statements.PROMPT_DIFF, {"changes": []})
    )
    env = dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, payload, [a, b])
    again = dsse.Envelope.loads(env.dumps())
    assert dsse.verify(again, [a.verifier, b.verifier]) == [a.verifier, b.verifier]
    for i in range(len(payload)):
        bad = bytearray(payload)
        bad[i] ^= 0x20
        with pytest.raises(dsse.EnvelopeError):
            dsse.verify(dsse.Envelope(env.payload_type, bytes(bad), env.signatures), [a.verifier])
    sig = env.signatures[0]
    for i in range(len(sig.sig)):
        bad = bytearray(sig.sig)
        bad[i] ^= 0x01
        forged = dsse.Envelope(
            env.payload_type, env.payload, (dsse.EnvelopeSignature(sig.keyid, bytes(bad)),)
        )
        with pytest.raises(dsse.EnvelopeError):
            dsse.verify(forged, [a.verifier])
    with pytest.raises(dsse.EnvelopeError, match="not signed by"):
        dsse.verify(env, [Signer.generate("other").verifier])


def test_statement_parse_refuses_unknown_types() -> None:
    st_ = statements.statement([("x", "00")], statements.PROMPT_MANIFEST, {})
    assert statements.parse_statement(statements.statement_bytes(st_))["predicateType"] == (
        statements.PROMPT_MANIFEST
    )
    for bad in ({**st_, "_type": "x"}, {**st_, "predicateType": "https://example.com/other"}):
        with pytest.raises(statements.StatementError):
            statements.parse_statement(json.dumps(bad).encode())


SEGS = [
    Segment("model", "claude-sonnet-4-5", "param"),
    Segment("system[0].text", "You are helpful. Today's date is 2026-11-24.", "body"),
    Segment("metadata.user_id", "user_3f9a", "body"),
    Segment("headers.user-agent", "claude-cli/2.0.1 (external, cli)", "header"),
]


def _manifest(segs: list[Segment] = SEGS) -> dict[str, object]:
    return statements.manifest_predicate(
        agent={"name": "claude-cli", "version": "2.0.1"},
        protocol="anthropic",
        request={"method": "POST", "path": "/v1/messages", "sha256": "0" * 64, "size": 1},
        segments=segs,
        whole=["metadata.user_id"],
    )


def test_manifest_per_run_value_may_change_but_not_form() -> None:
    pred = _manifest()
    entries = {e["path"]: e for e in pred["segments"]}  # type: ignore[index, union-attr]
    assert entries["system[0].text"]["per_run"] and entries["system[0].text"]["scope"] == "spans"
    assert entries["system[0].text"]["form"] == "You are helpful. Today's date is 9999-99-99."
    assert entries["metadata.user_id"]["scope"] == "whole"
    assert not entries["model"]["per_run"]
    same = [*SEGS]
    same[1] = Segment("system[0].text", "You are helpful. Today's date is 2026-11-25.", "body")
    same[2] = Segment("metadata.user_id", "user_8c0d", "body")
    assert statements.check_manifest(pred, same) == []
    covert = [*SEGS]
    covert[1] = Segment("system[0].text", "You are helpful. Today's date is 2026/11/25.", "body")
    problems = statements.check_manifest(pred, covert)
    assert [(p.path, p.what) for p in problems] == [("system[0].text", "form")]


def test_manifest_fixed_added_removed() -> None:
    pred = _manifest()
    changed = [
        *SEGS[:3],
        Segment("headers.user-agent", "claude-cli/2.0.1 (external, cli)\u200b", "header"),
    ]
    problems = statements.check_manifest(pred, changed)
    assert [(p.path, p.what) for p in problems] == [("headers.user-agent", "changed")]
    assert "invisible" in problems[0].detail
    problems = statements.check_manifest(
        pred, [*SEGS[1:], Segment("params.temperature", "1", "param")]
    )
    assert sorted((p.path, p.what) for p in problems) == [
        ("model", "removed"),
        ("params.temperature", "added"),
    ]


@given(st.text(max_size=60))
def test_run_form_keeps_everything_outside_per_run_spans(text: str) -> None:
    f = statements.run_form(text, statements.SCOPE_SPANS)
    if not statements.per_run_spans(text):
        assert f == text
    assert statements.run_form(text, statements.SCOPE_SPANS) == f  # deterministic
