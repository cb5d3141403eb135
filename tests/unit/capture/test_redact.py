"""Credential redaction: nothing of a secret survives, everything else is byte-exact."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.capture.redact import PREFIX, Redactor, is_credential_header
from promptwitness.model import CapturedExchange

SALT = b"s" * 32
KEY = "sk-ant-api03-" + "Ab1_" * 20


def ex(**kw: object) -> CapturedExchange:
    base: dict[str, object] = {
        "method": "POST",
        "target": "/v1/messages",
        "host": "api.example",
        "request_headers": [("content-type", "application/json")],
        "request_body": b'{"model":"m","messages":[]}',
        "status": 200,
        "response_headers": [("content-type", "application/json")],
        "response_body": b"{}",
    }
    base.update(kw)
    return CapturedExchange(**base)  # type: ignore[arg-type]


def fp(secret: str, salt: bytes = SALT) -> str:
    return PREFIX + hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()[:16]


def everything(x: CapturedExchange) -> bytes:
    """Every byte of an exchange that could reach the store."""
    parts = [x.method, x.target, x.host, x.upstream or "", x.error or "", x.client or ""]
    for k, v in [*x.request_headers, *x.response_headers]:
        parts += [k, v]
    parts += x.redactions
    text = "\n".join(parts).encode("utf-8", "surrogatepass")
    return b"\n".join([text, x.request_body, x.response_body])


def test_fingerprint_is_salted_hmac() -> None:
    r = Redactor(SALT)
    assert r.fingerprint("hello-secret") == fp("hello-secret")
    assert Redactor(b"t" * 32).fingerprint("hello-secret") != fp("hello-secret")
    assert len(r.fingerprint("x")) == len(PREFIX) + 16


def test_credential_headers_keep_scheme_word() -> None:
    r = Redactor(SALT)
    out = r.redact(
        ex(
            request_headers=[
                ("Authorization", f"Bearer {KEY}"),
                ("x-api-key", KEY),
                ("X-Goog-Api-Key", "AIzaShort"),
                ("Cookie", "session=abcdefgh12345; theme=dark"),
                ("X-Amz-Security-Token", "short"),
                ("X-CSRF-Token", "tok12345678"),
                ("my-client-secret", "hush-hush-hush"),
                ("Proxy-Authorization", "Basic dXNlcjpzdXBlcnNlY3JldA=="),
                ("User-Agent", "claude-cli/2.1.91"),
                ("anthropic-version", "2023-06-01"),
            ],
            response_headers=[
                ("Set-Cookie", "sid=0123456789abcdef; Path=/; HttpOnly"),
                ("anthropic-ratelimit-tokens-remaining", "40000"),
                ("x-ratelimit-reset-tokens", "2026-01-01T00:00:00Z"),
            ],
        )
    )
    h = dict(out.request_headers)
    assert h["Authorization"] == "Bearer " + fp(KEY)
    assert h["x-api-key"] == fp(KEY)  # same secret, same fingerprint
    assert h["X-Goog-Api-Key"] == fp("AIzaShort")
    assert h["Cookie"] == fp("session=abcdefgh12345; theme=dark")
    assert h["X-Amz-Security-Token"] == fp("short")
    assert h["X-CSRF-Token"] == fp("tok12345678")
    assert h["my-client-secret"] == fp("hush-hush-hush")
    assert h["Proxy-Authorization"] == "Basic " + fp("dXNlcjpzdXBlcnNlY3JldA==")
    assert h["User-Agent"] == "claude-cli/2.1.91" and h["anthropic-version"] == "2023-06-01"
    rh = dict(out.response_headers)
    assert rh["Set-Cookie"] == fp("sid=0123456789abcdef; Path=/; HttpOnly")
    assert rh["anthropic-ratelimit-tokens-remaining"] == "40000"
    assert rh["x-ratelimit-reset-tokens"] == "2026-01-01T00:00:00Z"
    assert [k for k, _ in out.request_headers][:3] == [
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
    ]
    assert "header authorization" in out.redactions
    assert "response header set-cookie" in out.redactions
    blob = everything(out)
    for secret in (KEY, "abcdefgh12345", "0123456789abcdef", "tok12345678", "supersecret"):
        assert secret.encode() not in blob


def test_header_names() -> None:
    for name in (
        "Authorization",
        "x-api-key",
        "api-key",
        "X-Goog-Api-Key",
        "cookie",
        "x-auth-token",
        "X-Secret-Thing",
        "my-apikey",
        "x-api_key",
    ):
        assert is_credential_header(name), name
    for name in (
        "user-agent",
        "content-type",
        "anthropic-ratelimit-input-tokens-limit",
        "x-stainless-os",
        "openai-organization",
        "x-ratelimit-remaining-tokens",
    ):
        assert not is_credential_header(name), name


def test_query_parameters() -> None:
    r = Redactor(SALT)
    target = (
        "/v1beta/models/gemini:generateContent?alt=sse"
        "&key=AIzaSyA-1234567890abcdefghijklmnopqrstu&x=%2F"
    )
    out = r.redact(ex(target=target))
    assert out.target == (
        "/v1beta/models/gemini:generateContent?alt=sse&key="
        + fp("AIzaSyA-1234567890abcdefghijklmnopqrstu")
        + "&x=%2F"
    )
    assert "query key" in out.redactions
    out2 = r.redact(ex(target="/x?api_key=abc%2Bdef%2Fghij&access_token=t0k3n-value-99&page=2"))
    assert (
        out2.target == f"/x?api_key={fp('abc+def/ghij')}&access_token={fp('t0k3n-value-99')}&page=2"
    )


def test_secret_in_bodies_in_every_form() -> None:
    secret = 'p@ss/w"rd-ünicode-12345'
    r = Redactor(SALT)
    req_body = (
        b'{"text":"'
        + json.dumps(secret)[1:-1].encode()
        + b'", "raw":"'
        + json.dumps(secret, ensure_ascii=False)[1:-1].encode()
        + b'", "url":"https://x/?k='
        + quote(secret, safe="").encode()
        + b'", "plus":"'
        + quote_plus(secret).encode()
        + b'", "slash":"'
        + json.dumps(secret)[1:-1].replace("/", "\\/").encode()
        + b'"}'
    )
    out = r.redact(
        ex(
            request_headers=[("x-api-key", secret)],
            request_body=req_body,
            response_body=("echo: " + secret).encode(),
            target="/echo/" + quote(secret, safe=""),
            error=f"upstream said {secret}",
        )
    )
    blob = everything(out)
    assert secret.encode() not in blob
    for form in (json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)):
        assert form.encode() not in blob
    assert out.request_body.count(fp(secret).encode()) == 5
    assert out.response_body == b"echo: " + fp(secret).encode()
    assert out.target == "/echo/" + fp(secret)
    assert any(n.startswith("request body: 5 occurrences of a credential") for n in out.redactions)
    json.loads(out.request_body)  # still valid JSON


def test_known_secrets_and_minimum_length() -> None:
    r = Redactor(SALT, known_secrets=["my-long-token-value", "short"])
    out = r.redact(ex(request_body=b"a my-long-token-value b short c my-long-token-value"))
    assert (
        out.request_body
        == f"a {fp('my-long-token-value')} b short c {fp('my-long-token-value')}".encode()
    )
    assert "request body: 2 occurrences of a known secret" in out.redactions


def test_secret_named_json_fields() -> None:
    r = Redactor(SALT)
    body = (
        b'{"api_key": "abcdefgh-123", "apiKey":"ZYXWVUTS\\u00e9", "password" : "hunter2hunter2",'
        b' "token_count": "12345678901", "secret": "short",'
        b' "text": "{\\"password\\": \\"in text\\"}"}'
    )
    out = r.redact(ex(request_body=body))
    assert b"abcdefgh-123" not in out.request_body
    assert b"ZYXWVUTS" not in out.request_body
    assert b"hunter2hunter2" not in out.request_body
    assert b"12345678901" in out.request_body  # not a secret-named field
    assert b'"secret": "short"' in out.request_body  # under 8 characters
    assert b"in text" in out.request_body  # inside a string, not a field
    assert "request body field api_key" in out.redactions
    assert "request body field password" in out.redactions
    assert not any("abcdefgh" in n for n in out.redactions)
    json.loads(out.request_body)


def test_key_shaped_strings() -> None:
    google = "AIza" + "B" * 20 + "1" * 15
    openai = "sk-proj-" + "a1B2" * 10
    text = (
        f"use {KEY} or {google}, and {openai}. sk-learn-compatible-estimator-api is prose; "
        "task-abcdefghijklmnopqrstuvwxyz0123 is not a key"
    ).encode()
    r = Redactor(SALT)
    out = r.redact(ex(request_body=text, response_body=b"model says " + openai.encode()))
    for k in (KEY, google, openai):
        assert k.encode() not in out.request_body and fp(k).encode() in out.request_body
    assert b"sk-learn-compatible-estimator-api is prose" in out.request_body
    assert b"task-abcdefghijklmnopqrstuvwxyz0123" in out.request_body
    assert out.response_body == b"model says " + fp(openai).encode()


def test_secrets_are_remembered_across_exchanges() -> None:
    r = Redactor(SALT)
    r.redact(ex(request_headers=[("authorization", "Bearer tok-abcdefgh-1")]))
    later = r.redact(ex(request_body=b"the token was tok-abcdefgh-1"))
    assert later.request_body == b"the token was " + fp("tok-abcdefgh-1").encode()


def test_input_not_mutated_and_redaction_idempotent() -> None:
    original = ex(
        request_headers=[("authorization", f"Bearer {KEY}")],
        request_body=f'{{"k":"{KEY}"}}'.encode(),
        target="/x?key=abcdefgh12345",
        redactions=["earlier note"],
    )
    r = Redactor(SALT)
    once = r.redact(original)
    assert original.request_headers == [("authorization", f"Bearer {KEY}")]
    assert KEY.encode() in original.request_body
    assert once.redactions[0] == "earlier note"
    twice = Redactor(SALT).redact(once)
    assert twice.request_headers == once.request_headers
    assert twice.request_body == once.request_body and twice.target == once.target


def test_other_bytes_untouched() -> None:
    body = '{"text":"it\u2019s 2026/11/23\u200b \\u00e9 café"}'.encode() + b"\xff\xfe raw"
    out = Redactor(SALT, known_secrets=["not-present-anywhere"]).redact(ex(request_body=body))
    assert out.request_body == body
    assert out.redactions == []


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300).filter(lambda b: b"sk-" not in b and b"AIza" not in b),
    target=st.text(alphabet="/abcdefgh?=&%0123", max_size=40),
)
def test_no_secrets_means_no_change(body: bytes, target: str) -> None:
    x = ex(request_body=body, response_body=body, target="/" + target)
    out = Redactor(SALT, known_secrets=["ZZZZqqqqZZZZ"]).redact(x)
    assert out.request_body == body and out.response_body == body and out.target == x.target


SECRET_ALPHABET = st.characters(
    min_codepoint=0x21, max_codepoint=0x2FF, blacklist_categories=("Cs", "Cc", "Zs")
)


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet=SECRET_ALPHABET, min_size=8, max_size=40),
    where=st.sampled_from(["authorization", "x-api-key", "cookie", "query", "known"]),
    before=st.binary(max_size=40),
    after=st.binary(max_size=40),
    salt=st.binary(min_size=16, max_size=32),
)
def test_no_byte_sequence_of_a_secret_survives(
    secret: str, where: str, before: bytes, after: bytes, salt: bytes
) -> None:
    enc = secret.encode()
    known: list[str] = []
    headers = [("content-type", "application/json"), ("x-echo", "v=" + secret)]
    target = "/v1/x?alt=sse"
    if where == "authorization":
        headers.append(("Authorization", "Bearer " + secret))
    elif where == "x-api-key":
        headers.append(("x-api-key", secret))
    elif where == "cookie":
        headers.append(("cookie", secret))
    elif where == "query":
        target += "&key=" + quote(secret, safe="")
    else:
        known.append(secret)
    x = ex(
        request_headers=headers,
        target=target + "&echo=" + quote_plus(secret),
        request_body=before + enc + b'{"s":"' + json.dumps(secret)[1:-1].encode() + b'"}' + after,
        response_body=after + enc + before + quote(secret, safe="").encode(),
    )
    r = Redactor(salt, known_secrets=known)
    out = r.redact(x)
    blob = everything(out)
    assert enc not in blob
    assert json.dumps(secret)[1:-1].encode() not in blob
    assert quote(secret, safe="").encode() not in blob
    assert r.fingerprint(secret).encode() in out.request_body
    # stable for the same salt, different for another
    assert Redactor(salt).fingerprint(secret) == r.fingerprint(secret)
    assert Redactor(salt + b"x").fingerprint(secret) != r.fingerprint(secret)
    assert all(secret not in note for note in out.redactions)
