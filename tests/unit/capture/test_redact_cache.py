"""The redactor's fast paths: the anchored key scan and the per-body cache.

Both must give exactly what the plain, uncached scan gives: secrets never survive.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.capture import redact
from promptwitness.capture.redact import KEY_PATTERN, Redactor
from promptwitness.model import CapturedExchange

SALT = b"s" * 32
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def reference_key_shaped(data: bytes) -> list[str]:
    """The plain definition: every KEY_PATTERN match that starts a word and has a digit."""
    out = []
    for m in KEY_PATTERN.finditer(data):
        if m.start() > 0 and data[m.start() - 1] in _WORD:
            continue
        if re.search(rb"[0-9]", m.group()):
            out.append(m.group().decode("ascii"))
    return out


SAMPLES = [
    "sk-ant-api03-" + "Ab1_" * 10,
    "sk-proj-" + "a1B2" * 10,
    "AIza" + "B" * 20 + "1" * 15,
    *(f"gh{c}_" + "a1" * 18 for c in "pousr"),
    "github_pat_" + "x1" * 12,
    "AKIA" + "ABCDEFGH12345678",
    "ASIA" + "ABCDEFGH12345678",
    *(f"xox{c}-" + "123456789-ab" for c in "abposr"),
]


@pytest.mark.parametrize("key", SAMPLES)
def test_every_key_kind_is_found_anywhere(key: str) -> None:
    for text in (key, f"x {key}", f'"{key}"', f"{key}.", f"a\n{key} and {key}"):
        data = text.encode()
        assert redact._key_shaped(data) == reference_key_shaped(data)
        assert key in redact._key_shaped(data)


# Bytes rich in the pieces keys are made of, so that prefixes, near misses, words
# around them and overlaps are all generated.
_PIECES = st.sampled_from(
    [
        b"sk-",
        b"AIza",
        b"gh",
        b"p_",
        b"o_",
        b"ithub_pat_",
        b"github_pat_",
        b"AKIA",
        b"ASIA",
        b"xox",
        b"b-",
        b"-",
        b"_",
        b"I",
        b"A",
        b"a",
        b"Z",
        b"1",
        b"9",
        b" ",
        b'"',
        b"\n",
        b"abcdefghij",
        b"0123456789",
        b"ABCDEFGHIJKLMNOP",
        b"t",
        b"\xff",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map(b"".join))
def test_anchored_scan_equals_the_plain_regex(data: bytes) -> None:
    assert redact._key_shaped(data) == reference_key_shaped(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_anchored_scan_equals_the_plain_regex_on_any_bytes(data: bytes) -> None:
    assert redact._key_shaped(data) == reference_key_shaped(data)


def big_body(secret: str = "", filler: int = 4000) -> bytes:
    text = "prose about tools and schemas; " * (filler // 30)
    return ('{"system":"' + text + secret + '","messages":[]}').encode()


def ex(body: bytes, headers: list[tuple[str, str]] | None = None) -> CapturedExchange:
    return CapturedExchange(
        method="POST",
        target="/v1/messages",
        host="api.example",
        request_headers=headers or [("content-type", "application/json")],
        request_body=body,
        status=200,
        response_body=b"{}",
    )


def test_repeated_body_is_not_rescanned(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-ant-api03-" + "Zz9_" * 10
    body = big_body(f" {key} ")
    r = Redactor(SALT)
    first = r.redact(ex(body))
    calls = []
    for name in ("_secret_fields", "_key_shaped"):
        real = getattr(redact, name)
        monkeypatch.setattr(
            redact, name, lambda d, real=real, name=name: (calls.append(name), real(d))[1]
        )
    again = r.redact(ex(body))
    assert key.encode() not in again.request_body
    assert again.request_body == first.request_body
    assert again.redactions == first.redactions
    assert "_secret_fields" not in calls  # the request body was not scanned again
    assert r.cache_hits >= 1


def test_a_secret_learned_later_is_replaced_in_a_cached_body() -> None:
    secret = "tok-abcdefgh-1"  # not key-shaped: found only once it is known
    body = big_body(f" the token is {secret} ")
    r = Redactor(SALT)
    before = r.redact(ex(body))
    assert secret.encode() in before.request_body  # not known yet: nothing to replace
    r.redact(ex(b"{}", [("authorization", f"Bearer {secret}")]))
    after = r.redact(ex(body))
    assert secret.encode() not in after.request_body
    assert r.fingerprint(secret).encode() in after.request_body
    assert any("a credential" in n for n in after.redactions)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(SAMPLES + ["tok-abcdefgh-1", "plain words"]), max_size=4),
    st.integers(0, 3),
)
def test_cached_results_equal_a_fresh_redactor(secrets: list[str], repeats: int) -> None:
    body = big_body(" ".join(secrets))
    headers = [("authorization", "Bearer tok-abcdefgh-1")]
    cached = Redactor(SALT)
    for _ in range(repeats):
        cached.redact(ex(body, headers))
    got = cached.redact(ex(body, headers))
    fresh = Redactor(SALT).redact(ex(body, headers))
    assert got.request_body == fresh.request_body
    assert sorted(got.redactions) == sorted(fresh.redactions)
    for s in secrets:
        if s != "plain words":
            assert s.encode() not in got.request_body


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "CACHE_MAX_ENTRIES", 5)
    monkeypatch.setattr(redact, "CACHE_MAX_BYTES", 3 * 5000)
    r = Redactor(SALT, known_secrets=["known-secret-1"])
    for i in range(20):
        r.redact(ex(big_body(f" body {i} known-secret-1 ")))
        assert len(r._scans) <= 5
        assert r._scan_bytes <= 3 * 5000
        assert r._scan_bytes == sum(s.cost() for s in r._scans.values())


def test_a_secret_learned_later_is_replaced_in_a_remembered_header_value() -> None:
    secret = "tok-abcdefgh-1"
    r = Redactor(SALT)
    note = [("x-note", f"was {secret}")]
    assert r.redact(ex(b"{}", note)).request_headers == note  # not known yet
    r.redact(ex(b"{}", [("authorization", f"Bearer {secret}")]))
    out = r.redact(ex(b"{}", note))
    assert out.request_headers == [("x-note", f"was {r.fingerprint(secret)}")]
    assert "header x-note: 1 occurrence of a credential" in out.redactions
    again = r.redact(ex(b"{}", note))  # from the cache: same text, same notes
    assert again.request_headers == out.request_headers
    assert again.redactions == out.redactions


@pytest.mark.parametrize("full", [False, True])
def test_a_cache_key_collision_never_returns_another_bodys_redaction(full: bool) -> None:
    """The cache is keyed by length and hashes; a hit must be the same bytes. A forged
    entry under the keys of a secret-bearing body (as a collision would make) is not
    used: the body is scanned afresh and its secret is replaced by its fingerprint."""
    secret = "sk-ant-api03-" + "Q" * 60
    clean, dirty = big_body(), big_body(secret)
    r = Redactor(b"s" * 32, known_secrets=[secret])
    r.redact(ex(clean))
    ((_key, scan),) = r._scans.items()
    forged = [redact.body_key(True, dirty)] + (
        [redact.body_key(True, dirty, full=True)] if full else []
    )
    for key in forged:
        r._scans[key] = scan  # the clean body's scan, under the dirty body's keys
    out = r.redact(ex(dirty))
    assert out.request_body == dirty.replace(secret.encode(), r.fingerprint(secret).encode())
    # the dirty body's own scan is kept under its full hash (its sampled slot is taken)
    assert r._scans[redact.body_key(True, dirty, full=True)].body == dirty


def test_bodies_alike_at_both_ends_are_both_remembered() -> None:
    """Same length, same head and tail, another middle (a date changed): the second is
    kept under its full hash, and both are hits afterwards, each with its own result."""
    secret = "tok-abcdefgh-1"
    pad = "x" * 40_000
    a = f'{{"a":"{pad}","when":"2026-11-28","b":"{pad}"}}'.encode()
    b = a.replace(b"2026-11-28", b"2026/11/28")
    c = a.replace(b"2026-11-28", secret[:10].encode())
    assert redact.body_key(True, a) == redact.body_key(True, b) == redact.body_key(True, c)
    r = Redactor(SALT, known_secrets=[secret])
    outs = [r.redact(ex(x)).request_body for x in (a, b, a, b)]
    assert outs == [a, b, a, b]
    assert r.cache_misses == 2 and r.cache_hits == 2
    assert len(r._scans) == 2
