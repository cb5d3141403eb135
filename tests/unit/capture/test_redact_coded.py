"""Redaction of coded request bodies, of credential headers named any way, and of
JSON-escaped secrets (issue 11, section 2)."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib

import brotli
import pytest
import zstandard

from promptwitness.capture.redact import Redactor, is_credential_header
from promptwitness.model import CapturedExchange
from promptwitness.protocols.encoding import decode_body

SALT = b"s" * 32
OPENAI = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
GOOGLE = "AIzaSyA-1234567890abcdefghijklmnopqrstu"
FIELD = "hunter2-correct-horse-9"
SECRETS = (OPENAI, GOOGLE, FIELD)

BODY = json.dumps(
    {
        "model": "claude-sonnet-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": f"keys {OPENAI} and {GOOGLE}"}],
        "metadata": {"api_key": FIELD},
    }
).encode()


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


CODINGS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
}


def exchange(
    body: bytes, coding: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> CapturedExchange:
    hs = [("Content-Type", "application/json"), *headers]
    if coding is not None:
        hs.append(("Content-Encoding", "deflate" if coding == "raw-deflate" else coding))
    return CapturedExchange("POST", "/v1/messages", "h", request_headers=hs, request_body=body)


def visible(ex: CapturedExchange) -> bytes:
    """Every byte of the exchange, bodies decoded as far as they go."""
    enc = ex.request_headers[-1][1] if ex.request_headers[-1][0] == "Content-Encoding" else ""
    decoded = decode_body(ex.request_body, enc).body if enc else b""
    parts = [
        ex.request_body,
        decoded,
        ex.target.encode(),
        json.dumps(ex.request_headers).encode(),
        json.dumps(ex.request_coding).encode(),
        json.dumps(ex.redactions).encode(),
    ]
    return b"\n".join(parts)


@pytest.mark.parametrize("coding", sorted(CODINGS))
def test_secrets_in_a_coded_body_are_redacted(coding: str) -> None:
    received = CODINGS[coding](BODY)
    out = Redactor(SALT).redact(exchange(received, coding))
    blob = visible(out)
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    meta = out.request_coding
    assert meta is not None and meta["stored"] == "re-encoded"
    assert meta["received_size"] == len(received) and meta["decoded_size"] == len(BODY)
    assert str(meta["received_digest"]).startswith("hmac-sha256:")
    assert meta["error"] is None and meta["decoded_complete"] is True
    header = "deflate" if coding == "raw-deflate" else coding
    again = decode_body(out.request_body, header)
    assert again.ok and b"pw-redacted:" in again.body
    json.loads(again.body)  # still the same JSON, secrets replaced
    assert any(n.startswith(f"request body content-coding {header}:") for n in out.redactions)


def test_a_coded_body_without_secrets_is_stored_as_received() -> None:
    body = b'{"model":"m","messages":[{"role":"user","content":"hello"}]}'
    received = gzip.compress(body)
    out = Redactor(SALT).redact(exchange(received, "gzip"))
    assert out.request_body == received
    meta = out.request_coding
    assert meta is not None and meta["stored"] == "received"
    assert meta["received_digest"] == "sha256:" + hashlib.sha256(received).hexdigest()


def test_a_plain_body_has_no_coding_record() -> None:
    out = Redactor(SALT).redact(exchange(BODY, None))
    assert out.request_coding is None
    assert OPENAI.encode() not in out.request_body


def test_a_body_that_cannot_be_decoded_keeps_no_compressed_secret() -> None:
    # cut short: what can be decoded holds the secrets, so that is what is stored
    cut = gzip.compress(BODY)[:-12]
    out = Redactor(SALT).redact(exchange(cut, "gzip"))
    meta = out.request_coding
    assert meta is not None and meta["error_kind"] == "truncated"
    assert meta["stored"] == "decoded-prefix"
    for secret in SECRETS:
        assert secret.encode() not in visible(out)
    # garbage: nothing decodes, the bytes are kept as received
    garbage = b"\x1f\x8b\x08\x00garbage"
    out = Redactor(SALT).redact(exchange(garbage, "gzip"))
    assert out.request_body == garbage
    assert out.request_coding is not None
    assert out.request_coding["error_kind"] in ("corrupt", "truncated")
    assert out.request_coding["stored"] == "received"


def test_a_secret_learned_from_a_header_is_replaced_inside_a_coded_body() -> None:
    key = "my-gateway-key-0123456789"
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": key}]}).encode()
    out = Redactor(SALT).redact(exchange(gzip.compress(body), "gzip", (("X-Access-Key", key),)))
    assert key.encode() not in visible(out)


def test_header_names() -> None:
    for name in (
        "X-Auth",
        "X-Access-Key",
        "x-auth-token",
        "X-Session-Token",
        "Session",
        "X-Password",
        "X-Credentials",
        "Set-Cookie",
        "X-Client-Secret",
        "Api-Key",
    ):
        assert is_credential_header(name), name
    for name in (
        "content-type",
        "x-stainless-os",
        "x-stainless-retry-count",
        "x-stainless-package-version",
        "x-stainless-helper-method",
        "user-agent",
        "anthropic-version",
        "anthropic-beta",
        "accept-encoding",
        "content-encoding",
        "anthropic-ratelimit-tokens-remaining",
        "x-claude-code-session-id",
        "session_id",
        "x-session-id",
        "connection",
        "keep-alive",
    ):
        assert not is_credential_header(name), name


def test_x_auth_and_x_access_key_are_redacted() -> None:
    r = Redactor(SALT)
    ex = exchange(
        b"{}", None, (("X-Auth", "Bearer tok-abcdef123456"), ("X-Access-Key", "AKx-ghijkl789012"))
    )
    out = r.redact(ex)
    values = dict(out.request_headers)
    assert values["X-Auth"].startswith("Bearer pw-redacted:")
    assert values["X-Access-Key"].startswith("pw-redacted:")
    assert b"abcdef123456" not in visible(out) and b"ghijkl789012" not in visible(out)


@pytest.mark.parametrize(
    "written",
    [
        OPENAI.replace("sk-", "sk\\u002d", 1),
        OPENAI.replace("sk-", "sk\\u002D", 1),
        "\\u0073" + OPENAI[1:],
        OPENAI[:20] + "\\u00" + format(ord(OPENAI[20]), "02x") + OPENAI[21:],
    ],
)
def test_json_escaped_keys_are_redacted(written: str) -> None:
    body = (
        '{"model":"m","messages":[{"role":"user","content":"key ' + written + ' end"}]}'
    ).encode()
    assert json.loads(body)["messages"][0]["content"] == f"key {OPENAI} end"
    for coding in (None, "gzip"):
        data = body if coding is None else gzip.compress(body)
        out = Redactor(SALT).redact(exchange(data, coding))
        blob = visible(out)
        assert written.encode() not in blob and OPENAI.encode() not in blob
        stored = out.request_body if coding is None else decode_body(out.request_body, "gzip").body
        assert OPENAI not in json.loads(stored)["messages"][0]["content"]


def test_an_escaped_known_secret_is_redacted() -> None:
    key = "gateway/key+0123456789"
    escaped = key.replace("/", "\\/").replace("+", "\\u002b")
    body = ('{"model":"m","messages":[{"role":"user","content":"' + escaped + '"}]}').encode()
    out = Redactor(SALT).redact(exchange(body, None, (("X-Api-Key", key),)))
    assert escaped.encode() not in out.request_body
    assert key not in json.loads(out.request_body)["messages"][0]["content"]
