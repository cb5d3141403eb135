"""Credential redaction at the capture edge, before anything is written.

Rules:
- A credential is replaced by ``pw-redacted:`` + the first 16 hex digits of
  HMAC-SHA256(store salt, secret): the same secret always gives the same fingerprint in
  a store (a change of identity stays visible) and the secret itself is gone.
- Credential headers have their value replaced: authorization, x-api-key, cookie, ...
  and any header whose name holds ``auth``, ``key``, ``token``, ``secret``,
  ``password``/``passwd``, ``credential``, ``session`` or ``cookie`` (``X-Auth``,
  ``X-Access-Key``, ``X-Session-Token``), except rate-limit headers (they count
  tokens) and session *ids* (``x-claude-code-session-id``: an identifier, not a
  credential). An auth scheme word (``Bearer``, ``Basic`` ...) is kept. Credential
  query parameters (``key=``, ``api_key=``, ``access_token=`` ...) have their value
  replaced.
- Every secret seen (from those headers and parameters, from secret-named JSON fields
  in request bodies, from key-shaped strings such as ``sk-…``/``AIza…`` in bodies, and
  the caller's ``known_secrets``), when at least 8 characters long, is then replaced
  wherever it occurs: bodies, target, every header value, as itself and in its
  JSON-escaped and URL-encoded forms. Secrets are remembered across exchanges.
- JSON-escaped secrets are found too: in a request body's JSON strings that hold
  ``\\uXXXX`` escapes, key-shaped strings and known secrets are looked for in the
  unescaped text, and the exact escaped bytes (``sk\\u002dproj-…``) are replaced.
- A request body sent with a ``Content-Encoding`` (gzip, deflate, br, zstd, stacked)
  is decoded first (``protocols.encoding.decode_body``, bounded) and redacted
  decoded. The body stored is then the bytes received when nothing had to be
  replaced, else the redacted body encoded again with the same codings, so the
  stored headers and body always agree. A body that cannot be decoded (unknown
  coding, corrupt, truncated, a decompression bomb) is stored as received with what
  is visible redacted, unless what could be decoded of it holds a secret: then that
  decoded prefix, redacted, is stored instead (never a compressed secret).
  ``request_coding`` records the coding, the sizes and digests of the received and
  decoded bytes, what was stored and the decoding error (digests are HMAC-SHA256
  with the store's salt when a secret was replaced, so they confirm no guess).
- All other bytes are left exactly as they were: no re-encoding, no normalisation.
- ``redactions`` records what was replaced and where, never a value.
- Cheap on repeats: what a body teaches (secret fields, key-shaped strings) depends only
  on its bytes, and its redacted form only on its bytes and the secrets known, so both
  are remembered per body SHA-256 (bounded LRU); a new secret invalidates the redacted
  forms (a generation counter), never the scans. A repeated prompt is hashed, not
  rescanned, and the result is exactly what a fresh scan would give.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from promptwitness.model import CapturedExchange
from promptwitness.protocols.encoding import (
    Decoded,
    content_encoding,
    decode_body,
    encode_body,
    parse_codings,
)

PREFIX = "pw-redacted:"
MIN_SECRET = 8
"""Shorter secrets are replaced where they are credentials, but not searched for."""

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
    }
)
_NAME_MARKS = (
    "auth",
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "session",
    "cookie",
)
# Rate-limit headers count tokens (``anthropic-ratelimit-tokens-remaining: 40000``);
# they carry numbers and dates, not credentials, and are worth keeping. ``authority``
# is an address.
_NOT_CREDENTIAL_MARKS = ("ratelimit", "tokens", "authority")
# A session id (``x-claude-code-session-id``, ``session_id``) names a conversation; it
# is no credential, and the prompts' own metadata repeats it (kept for the analysis).
_SESSION_ID = re.compile(r"session[-_]?id$")

CREDENTIAL_QUERY = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "access_token",
        "id_token",
        "refresh_token",
        "token",
        "client_secret",
        "secret",
        "password",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-credential",
        "x-goog-signature",
        "x-goog-credential",
        "sig",
        "signature",
    }
)

AUTH_SCHEMES = frozenset(
    {
        "bearer",
        "basic",
        "token",
        "digest",
        "negotiate",
        "ntlm",
        "dpop",
        "apikey",
        "key",
        "aws4-hmac-sha256",
        "hoba",
        "mutual",
    }
)

_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)([ \t]+)(\S.*)", re.S)
_FINGERPRINT_TEXT = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9_-]*[ \t]+)?" + re.escape(PREFIX) + r"[0-9a-f]{16}"
)

# JSON string fields whose value is a secret, in request bodies. The quote before the
# name and the colon after it keep this to real JSON keys (not text inside a string,
# where the quotes would be escaped).
_SECRET_FIELD = re.compile(
    rb'"(?P<name>(?i:(?:x[_-]?)?api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token'
    rb"|auth[_-]?token|session[_-]?token|bearer[_-]?token|authorization|password|passwd"
    rb'|client[_-]?secret|secret[_-]?key|private[_-]?key|secret))"\s*:\s*'
    rb'"(?P<value>(?:[^"\\]|\\.)*)"'
)

# Key-shaped strings, anywhere in bodies and targets. One alternation whose branches
# start with literals (fast to scan); the left word boundary is checked in code, since
# a lookbehind at the front would be tried at every byte.
KEY_PATTERN = re.compile(
    rb"(?:sk-[A-Za-z0-9_-]{20,}"  # Anthropic (sk-ant-), OpenAI (sk-proj-), OpenRouter, DeepSeek
    rb"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    rb"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,}"  # GitHub tokens
    rb"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    rb"|xox[abposr]-[A-Za-z0-9-]{10,})"  # Slack tokens
    rb"(?![A-Za-z0-9_-])"
)
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGIT = re.compile(rb"[0-9]")

CACHE_MIN_BYTES = 4096
"""Bodies shorter than this are scanned every time (hashing them costs about as much)."""
SAMPLE_BYTES = 1024
"""Bytes at each end of a body that key the per-body cache (with its length)."""
CACHE_MAX_ENTRIES = 256
CACHE_MAX_BYTES = 64 * 1024 * 1024
"""Bounds of the per-body cache (bodies and their redacted forms, counted together)."""

TEXT_CACHE = 4096
"""Short texts (header values, targets) whose redacted form is remembered, at most."""

CREDENTIAL = "a credential"
KNOWN = "a known secret"
FIELD = "a secret field's value"
KEY_SHAPED = "a key-shaped string"


def _utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=4096)
def is_credential_header(name: str) -> bool:
    low = name.lower()
    if low in CREDENTIAL_HEADERS:
        return True
    if any(m in low for m in _NOT_CREDENTIAL_MARKS):
        return False
    if not any(m in low for m in _NAME_MARKS):
        return False
    return not (
        "session" in low
        and _SESSION_ID.search(low)
        and not any(m in low for m in _NAME_MARKS if m != "session")
    )


def _lower_percent(s: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), s)


def text_forms(secret: str) -> set[str]:
    """The secret as it may appear in text: as is, JSON-escaped, URL-encoded."""
    forms = {secret}
    for ascii_only in (False, True):
        esc = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms |= {esc, esc.replace("/", "\\/")}
        forms.add(re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), esc))
    encoded = (quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, "/"))
    for enc in encoded:
        forms |= {enc, _lower_percent(enc)}
    return {f for f in forms if f}


def byte_forms(secret: str) -> set[bytes]:
    out = {_utf8(f) for f in text_forms(secret)}
    with contextlib.suppress(UnicodeEncodeError):
        out.add(secret.encode("latin-1"))
    return out


@dataclass(frozen=True)
class _Patterns:
    bytes_pattern: re.Pattern[bytes]
    bytes_lookup: dict[bytes, str]
    text_pattern: re.Pattern[str]
    text_lookup: dict[str, str]


@dataclass
class _Secret:
    fingerprint: str
    origin: str
    extra: set[bytes] = dataclasses.field(default_factory=set)


@dataclass
class _BodyScan:
    """What one body teaches, and (for one generation of secrets) its redacted form."""

    fields: tuple[tuple[str, tuple[str, bytes]], ...]  # secret-named JSON fields
    keys: tuple[str, ...]  # key-shaped strings
    size: int
    # JSON strings holding \uXXXX escapes: (unescaped text, bytes as written), and the
    # key-shaped strings found in them with their escaped bytes (request bodies only)
    literals: tuple[tuple[str, bytes], ...] = ()
    escaped_keys: tuple[tuple[str, bytes], ...] = ()
    generation: int = -1  # of ``redacted`` and ``counts``; -1: not computed yet
    redacted: bytes = b""
    counts: tuple[tuple[str, int], ...] = ()  # (origin, occurrences replaced)
    cached: bool = False  # counted in the cache's byte budget
    body: bytes = b""  # the body itself: a cache hit is confirmed byte for byte

    def cost(self) -> int:
        return self.size + (len(self.redacted) if self.generation >= 0 else 0)

    def holds(self, body: bytes) -> bool:
        """This is the scan of exactly ``body`` (same bytes)."""
        return self.body is body or self.body == body


BodyKey = tuple[bool, int, int, int, bool]


def body_key(request: bool, body: bytes, full: bool = False) -> BodyKey:
    """The per-body cache's key: (request?, length, hash of the first ``SAMPLE_BYTES``,
    hash of the last ``SAMPLE_BYTES``) or, with ``full``, the hash of the whole body."""
    if full:
        return (request, len(body), hash(body), 0, True)
    return (request, len(body), hash(body[:SAMPLE_BYTES]), hash(body[-SAMPLE_BYTES:]), False)


class Redactor:
    """Replaces credentials in captured exchanges by salted fingerprints.

    One instance serves a whole run: secrets seen in one exchange are also removed
    from the following ones. Thread-safe.
    """

    def __init__(self, salt: bytes, known_secrets: Iterable[str] = ()) -> None:
        if not salt:
            raise ValueError("a Redactor needs the store's salt")
        self._salt = bytes(salt)
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}
        self._patterns: _Patterns | None = None
        self._generation = 0  # bumped whenever the secrets (or their forms) change
        self._scans: OrderedDict[BodyKey, _BodyScan] = OrderedDict()
        self._scan_bytes = 0
        # header values and other short texts -> (redacted, ((origin, n), ...)), for
        # ``_text_generation`` only
        self._texts: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self._text_generation = -1
        self.cache_hits = 0
        self.cache_misses = 0
        for s in known_secrets:
            self._learn(s, KNOWN)

    def handover(self) -> tuple[bytes, list[str]]:
        """The salt and every secret searched for (known at start or learned since), for
        an equivalent redactor in another process (the capture's writer process). Goes
        only over a local socket; never logged, never written."""
        with self._lock:
            return self._salt, list(self._secrets)

    def fingerprint(self, secret: str) -> str:
        """``pw-redacted:`` + 16 hex digits of HMAC-SHA256(salt, secret)."""
        digest = hmac.new(self._salt, _utf8(secret), hashlib.sha256).hexdigest()
        return PREFIX + digest[:16]

    # secrets

    def _learn(self, secret: str, origin: str, extra: bytes | None = None) -> None:
        """Remember a secret to search for (callers hold the lock or are __init__)."""
        if len(secret) < MIN_SECRET or secret in PREFIX or _FINGERPRINT_TEXT.fullmatch(secret):
            return
        known = self._secrets.get(secret)
        if known is None:
            known = self._secrets[secret] = _Secret(self.fingerprint(secret), origin)
            self._patterns = None
            self._generation += 1
        if extra is not None and extra not in known.extra:
            known.extra.add(extra)
            self._patterns = None
            self._generation += 1

    def _compiled(self) -> _Patterns | None:
        if not self._secrets:
            return None
        if self._patterns is None:
            blookup: dict[bytes, str] = {}  # form -> secret
            tlookup: dict[str, str] = {}
            for secret, info in self._secrets.items():
                for bform in byte_forms(secret) | info.extra:
                    blookup.setdefault(bform, secret)
                for tform in text_forms(secret):
                    tlookup.setdefault(tform, secret)
            # Longest first: the alternation takes the first branch that matches.
            border = sorted(blookup, key=lambda f: (-len(f), f))
            torder = sorted(tlookup, key=lambda f: (-len(f), f))
            self._patterns = _Patterns(
                re.compile(b"|".join(re.escape(f) for f in border)),
                blookup,
                re.compile("|".join(re.escape(f) for f in torder)),
                tlookup,
            )
        return self._patterns

    # the pass

    def redact(self, ex: CapturedExchange) -> CapturedExchange:
        """A copy of ``ex`` with every credential replaced by its fingerprint."""
        with self._lock:
            return self._redact(ex)

    def _redact(self, ex: CapturedExchange) -> CapturedExchange:
        notes: list[str] = []
        req_headers = self._headers(ex.request_headers, "header", notes)
        resp_headers = self._headers(ex.response_headers, "response header", notes)
        target = self._query(ex.target, notes)
        # A coded body (Content-Encoding) is redacted decoded; only then is the header
        # looked for, so a plain body costs one pass over the header names.
        decoded: Decoded | None = None
        if ex.request_body:
            coding = content_encoding(ex.request_headers)
            if coding is not None and parse_codings(coding):
                decoded = decode_body(ex.request_body, coding)
        visible = ex.request_body if decoded is None else decoded.body
        req_scan = self._scan(visible, request=True)
        resp_scan = self._scan(ex.response_body, request=False)
        raw_scan = None  # a body that cannot be decoded: what is visible of it as sent
        if decoded is not None and decoded.error is not None:
            raw_scan = self._scan(ex.request_body, request=True)
        scans = (req_scan,) if raw_scan is None else (req_scan, raw_scan)
        for scan in scans:
            for name, value in scan.fields:
                notes.append(f"request body field {name}")
                self._learn(value[0], FIELD, value[1])
            for key, form in scan.escaped_keys:
                self._learn(key, KEY_SHAPED, form)
        for keys in (*(scan.keys for scan in scans), resp_scan.keys, _key_shaped(_utf8(target))):
            for key in keys:
                self._learn(key, KEY_SHAPED)
        for scan in scans:
            if scan.literals:
                self._learn_escaped(scan.literals)

        counts: Counter[tuple[str, str]] = Counter()
        coding_meta = ex.request_coding
        if decoded is None:
            req_body = self._body(ex.request_body, req_scan, "request body", counts)
        else:
            req_body, coding_meta = self._coded(
                ex.request_body, decoded, req_scan, raw_scan, counts, notes
            )
        resp_body = self._body(ex.response_body, resp_scan, "response body", counts)
        target = self._text(target, "target", counts)
        req_headers = [(k, self._text(v, f"header {k.lower()}", counts)) for k, v in req_headers]
        resp_headers = [
            (k, self._text(v, f"response header {k.lower()}", counts)) for k, v in resp_headers
        ]
        host = self._text(ex.host, "host", counts)
        upstream = self._opt_text(ex.upstream, "upstream", counts)
        error = self._opt_text(ex.error, "error", counts)
        client = self._opt_text(ex.client, "client", counts)
        for (where, origin), n in counts.items():
            notes.append(f"{where}: {n} occurrence{'s' if n != 1 else ''} of {origin}")

        return dataclasses.replace(
            ex,
            target=target,
            host=host,
            request_headers=req_headers,
            request_body=req_body,
            response_headers=resp_headers,
            response_body=resp_body,
            upstream=upstream,
            error=error,
            client=client,
            redactions=[*ex.redactions, *notes],
            request_coding=coding_meta,
        )

    def _digest(self, data: bytes, keyed: bool) -> str:
        if keyed:
            return "hmac-sha256:" + hmac.new(self._salt, data, hashlib.sha256).hexdigest()
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def _coded(
        self,
        raw: bytes,
        decoded: Decoded,
        scan: _BodyScan,
        raw_scan: _BodyScan | None,
        counts: Counter[tuple[str, str]],
        notes: list[str],
    ) -> tuple[bytes, dict[str, object]]:
        """The body to store for a body sent with a content coding, and what to record
        of it (see the module docstring)."""
        where = "request body"
        plain = decoded.body
        red = self._body(plain, scan, where, counts)
        changed = red is not plain and red != plain
        if decoded.error is None:
            if not changed:
                stored, form = raw, "received"
            else:
                try:
                    stored, form = encode_body(red, decoded.formats), "re-encoded"
                except Exception:  # pragma: no cover - every format we decode we encode
                    stored, form = red, "decoded"
        elif changed:
            stored, form = red, "decoded-prefix"
        else:
            assert raw_scan is not None
            stored = self._body(raw, raw_scan, where, counts)
            form = "received" if stored is raw or stored == raw else "received-redacted"
        keyed = form != "received"
        meta: dict[str, object] = {
            "coding": decoded.label,
            "formats": list(decoded.formats),
            "received_size": len(raw),
            "received_digest": self._digest(raw, keyed),
            "decoded_size": len(plain),
            "decoded_digest": self._digest(plain, keyed),
            "decoded_complete": decoded.error is None,
            "stored": form,
            "error": None
            if decoded.error is None
            else self._text(str(decoded.error), "request body coding error", counts),
            "error_kind": None if decoded.error is None else decoded.error.kind,
        }
        note = (
            f"request body content-coding {decoded.label}: received {len(raw)} bytes "
            f"({meta['received_digest']}), decoded {len(plain)} bytes "
            f"({meta['decoded_digest']}){'' if decoded.error is None else ' before an error'}"
            f"; stored {form}"
        )
        if decoded.error is not None:
            note += f"; {decoded.error.kind}: {meta['error']}"
        notes.append(note)
        return stored, meta

    def _learn_escaped(self, literals: tuple[tuple[str, bytes], ...]) -> None:
        """Every known secret that occurs in an unescaped JSON string is learned in the
        escaped form it has there too (``sk\\u002dproj-…``)."""
        for secret in list(self._secrets):
            for text, raw in literals:
                if secret in text:
                    for form in _escaped_forms(raw, secret):
                        self._learn(secret, self._secrets[secret].origin, form)

    def _headers(
        self, headers: Iterable[tuple[str, str]], label: str, notes: list[str]
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, value in headers:
            if value and is_credential_header(name) and not _FINGERPRINT_TEXT.fullmatch(value):
                value = self._credential_value(name.lower(), value)
                notes.append(f"{label} {name.lower()}")
            out.append((name, value))
        return out

    def _credential_value(self, name: str, value: str) -> str:
        lead = value[: len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()) :]
        body = value.strip()
        scheme = ""
        if name in _AUTH_HEADERS or "auth" in name:
            m = _SCHEME.fullmatch(body)
            if m and m.group(1).lower() in AUTH_SCHEMES:
                scheme = m.group(1) + m.group(2)
                body = m.group(3)
                if m.group(1).lower() == "basic":
                    self._learn_basic(body)
        if name in ("cookie", "set-cookie"):
            first = body.split(";", 1)[0] if name == "set-cookie" else body
            for pair in first.split(";"):
                self._learn(pair.split("=", 1)[-1].strip(), CREDENTIAL)
        self._learn(body, CREDENTIAL)
        return lead + scheme + self.fingerprint(body) + trail

    def _learn_basic(self, token: str) -> None:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return
        self._learn(decoded, CREDENTIAL)
        self._learn(decoded.split(":", 1)[-1], CREDENTIAL)

    def _query(self, target: str, notes: list[str]) -> str:
        if "?" not in target:
            return target
        path, query = target.split("?", 1)
        parts = query.split("&")
        changed = False
        for i, part in enumerate(parts):
            if "=" not in part:
                continue
            name, value = part.split("=", 1)
            if not value or unquote_plus(name).lower() not in CREDENTIAL_QUERY:
                continue
            secret = unquote(value)
            if _FINGERPRINT_TEXT.fullmatch(secret):
                continue
            self._learn(secret, CREDENTIAL)
            self._learn(unquote_plus(value), CREDENTIAL)
            self._learn(value, CREDENTIAL)
            parts[i] = f"{name}={self.fingerprint(secret)}"
            notes.append(f"query {unquote_plus(name)}")
            changed = True
        return path + "?" + "&".join(parts) if changed else target

    # the per-body cache

    def _scan(self, body: bytes, *, request: bool) -> _BodyScan:
        """What ``body`` teaches: secret fields (request bodies only) and key-shaped
        strings; remembered for bodies of ``CACHE_MIN_BYTES`` or more.

        The cache is keyed by the body's length and the built-in hash of its first and
        last ``SAMPLE_BYTES`` (hashing all of a 100 KB body would cost ten times as much),
        and a hit is confirmed by comparing the body byte for byte, so a collision can
        only cost a fresh scan, never a wrong redaction. A body whose sampled key holds
        another body (same length, head and tail: e.g. one date changed in the middle)
        is kept under its full hash instead, so that two such bodies are both
        remembered."""
        if len(body) < CACHE_MIN_BYTES:
            return self._fresh_scan(body, request)
        key = body_key(request, body)
        scan = self._scans.get(key)
        if scan is not None and not scan.holds(body):
            key = body_key(request, body, full=True)
            scan = self._scans.get(key)
        if scan is not None and scan.holds(body):
            self._scans.move_to_end(key)
            self.cache_hits += 1
            return scan
        self.cache_misses += 1
        scan = self._fresh_scan(body, request)
        scan.body = bytes(body)
        if key in self._scans:  # a collision of full hashes: the newer body takes the slot
            self._scan_bytes -= self._scans.pop(key).cost()
        self._scans[key] = scan
        scan.cached = True
        self._scan_bytes += scan.cost()
        self._trim()
        return scan

    @staticmethod
    def _fresh_scan(body: bytes, request: bool) -> _BodyScan:
        fields = tuple(_secret_fields(body)) if request else ()
        literals: tuple[tuple[str, bytes], ...] = ()
        escaped: list[tuple[str, bytes]] = []
        if request and b"\\u" in body:
            literals = tuple(_escaped_literals(body))
            for text, raw in literals:
                for key in _key_shaped(_utf8(text)):
                    escaped += [(key, form) for form in _escaped_forms(raw, key)]
        return _BodyScan(fields, tuple(_key_shaped(body)), len(body), literals, tuple(escaped))

    def _trim(self) -> None:
        while self._scans and (
            len(self._scans) > CACHE_MAX_ENTRIES or self._scan_bytes > CACHE_MAX_BYTES
        ):
            _key, old = self._scans.popitem(last=False)
            old.cached = False
            self._scan_bytes -= old.cost()

    def _body(
        self, data: bytes, scan: _BodyScan, where: str, counts: Counter[tuple[str, str]]
    ) -> bytes:
        """``data`` with every known secret replaced; the replaced form is remembered
        with the scan for as long as no new secret is learned."""
        if len(data) < CACHE_MIN_BYTES:
            return self._bytes(data, where, counts)
        if scan.generation != self._generation:
            mine: Counter[tuple[str, str]] = Counter()
            redacted = self._bytes(data, where, mine)
            before = scan.cost()
            scan.redacted, scan.generation = redacted, self._generation
            scan.counts = tuple((origin, n) for (_w, origin), n in mine.items())
            if scan.cached:  # still in the cache (not evicted since ``_scan``)
                self._scan_bytes += scan.cost() - before
                self._trim()
        for origin, n in scan.counts:
            counts[(where, origin)] += n
        return scan.redacted

    # replacing every occurrence

    def _bytes(self, data: bytes, where: str, counts: Counter[tuple[str, str]]) -> bytes:
        compiled = self._compiled()
        if compiled is None or not data:
            return data
        pattern, lookup = compiled.bytes_pattern, compiled.bytes_lookup

        def sub(m: re.Match[bytes]) -> bytes:
            secret = lookup[m.group()]
            info = self._secrets[secret]
            counts[(where, info.origin)] += 1
            return info.fingerprint.encode("ascii")

        for _ in range(4):  # a replacement cannot create a new occurrence, but be sure
            data, n = pattern.subn(sub, data)
            if n == 0:
                break
        return data

    def _text(self, text: str, where: str, counts: Counter[tuple[str, str]]) -> str:
        """``text`` with every known secret replaced; remembered while no secret is
        learned (header values repeat from one request to the next)."""
        if not text or not self._secrets:
            return text
        if self._text_generation != self._generation or len(self._texts) > TEXT_CACHE:
            self._texts.clear()
            self._text_generation = self._generation
        hit = self._texts.get(text)
        if hit is None:
            mine: Counter[tuple[str, str]] = Counter()
            out = self._text_uncached(text, where, mine)
            hit = self._texts[text] = (out, tuple((o, n) for (_w, o), n in mine.items()))
        for origin, n in hit[1]:
            counts[(where, origin)] += n
        return hit[0]

    def _text_uncached(self, text: str, where: str, counts: Counter[tuple[str, str]]) -> str:
        compiled = self._compiled()
        if compiled is None or not text:
            return text
        pattern, lookup = compiled.text_pattern, compiled.text_lookup

        def sub(m: re.Match[str]) -> str:
            info = self._secrets[lookup[m.group()]]
            counts[(where, info.origin)] += 1
            return info.fingerprint

        for _ in range(4):
            text, n = pattern.subn(sub, text)
            if n == 0:
                break
        return text

    def _opt_text(
        self, text: str | None, where: str, counts: Counter[tuple[str, str]]
    ) -> str | None:
        return None if text is None else self._text(text, where, counts)


def _secret_fields(body: bytes) -> list[tuple[str, tuple[str, bytes]]]:
    """``(field name, (decoded value, value as written))`` of secret-named JSON fields."""
    out: list[tuple[str, tuple[str, bytes]]] = []
    if b'"' not in body:
        return out
    for m in _SECRET_FIELD.finditer(body):
        raw = m.group("value")
        if len(raw) < MIN_SECRET:
            continue
        try:
            value = json.loads(b'"' + raw + b'"')
        except ValueError:
            value = raw.decode("utf-8", "surrogateescape")
        if not isinstance(value, str) or len(value) < MIN_SECRET:
            continue
        if _FINGERPRINT_TEXT.fullmatch(value):
            continue
        out.append((m.group("name").decode("ascii"), (value, raw)))
    return out


_ESCAPED_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*?\\u[0-9A-Fa-f]{4}(?:[^"\\]|\\.)*"')


def _escaped_literals(body: bytes) -> list[tuple[str, bytes]]:
    """``(unescaped text, bytes as written)`` of the JSON strings in ``body`` that hold
    at least one ``\\uXXXX`` escape (outside strings, JSON has no backslash, so a match
    that starts at a closing quote fails without reaching one)."""
    out: list[tuple[str, bytes]] = []
    for m in _ESCAPED_LITERAL.finditer(body):
        try:
            text = json.loads(m.group())
        except (ValueError, RecursionError):
            continue
        if isinstance(text, str):
            out.append((text, m.group()[1:-1]))
    return out


def _escaped_forms(raw: bytes, secret: str) -> list[bytes]:
    """The bytes in ``raw`` (a JSON string as written) that unescape to ``secret``,
    when any of its characters is written as an escape."""
    pieces: list[bytes] = []
    for ch in secret:
        alts = [re.escape(_utf8(ch))]
        code = ord(ch)
        if code < 0x10000:
            alts.append(rb"\\u(?i:" + f"{code:04x}".encode() + rb")")
        else:
            hi = 0xD800 + ((code - 0x10000) >> 10)
            lo = 0xDC00 + ((code - 0x10000) & 0x3FF)
            alts.append(
                rb"\\u(?i:" + f"{hi:04x}".encode() + rb")\\u(?i:" + f"{lo:04x}".encode() + rb")"
            )
        short = {
            '"': rb'\\"',
            "\\": rb"\\\\",
            "/": rb"\\/",
            "\b": rb"\\b",
            "\f": rb"\\f",
            "\n": rb"\\n",
            "\r": rb"\\r",
            "\t": rb"\\t",
        }.get(ch)
        if short is not None:
            alts.append(short)
        pieces.append(b"(?:" + b"|".join(alts) + b")")
    plain = _utf8(secret)
    found = {m.group() for m in re.finditer(b"".join(pieces), raw)}
    return sorted(f for f in found if f != plain)


# Every KEY_PATTERN match starts with one of these prefixes, and each prefix holds one
# of three anchor bytes: ``-`` (sk-, xox?-), ``_`` (gh?_, github_pat_) or ``I`` (AIza,
# AKIA, ASIA). One regex per anchor starts with that byte as a literal, so ``re`` jumps
# from one occurrence of it to the next at memchr speed and checks the bytes around it
# (lookbehind) in C: three sweeps of a few tens of µs per 100 KB, instead of eleven
# ``in`` scans or one alternation that stops at every ``s``, ``A``, ``g`` and ``x``.
# Only the rare real hits reach Python, where the prefix is confirmed.
_ANCHORS: tuple[tuple[re.Pattern[bytes], tuple[tuple[int, bytes], ...]], ...] = (
    (re.compile(rb"-(?:(?<=sk-)|(?<=xox[abposr]-))"), ((2, b"sk-"), (4, b"xox"))),
    (re.compile(rb"_(?:(?<=gh[pousr]_)|(?<=github_))"), ((3, b"gh"), (6, b"github_pat_"))),
    (
        re.compile(rb"I(?:(?<=AI)(?=za)|(?<=A[KS]I)(?=A))"),
        ((1, b"AIza"), (2, b"AKIA"), (2, b"ASIA")),
    ),
)


def _key_starts(data: bytes) -> list[int]:
    """Sorted offsets where a ``KEY_PATTERN`` prefix begins (a superset of match starts)."""
    starts: set[int] = set()
    for anchor, prefixes in _ANCHORS:
        for m in anchor.finditer(data):
            i = m.start()
            for offset, prefix in prefixes:
                s = i - offset
                if s >= 0 and data.startswith(prefix, s):
                    starts.add(s)
    return sorted(starts)


def _key_shaped(data: bytes) -> list[str]:
    """Key-shaped strings in ``data``: ``KEY_PATTERN`` matches that start a word and hold
    a digit, in order.

    The same result as ``KEY_PATTERN.finditer`` with those two checks (a match inside a
    longer word is skipped, and a match that starts inside an earlier one would start
    inside a word), but each candidate is tried only where its prefix is.
    """
    found: list[str] = []
    end = 0
    for s in _key_starts(data):
        if s < end or (s > 0 and data[s - 1] in _WORD):
            continue  # inside a longer word ("task-…") or inside the previous key
        m = KEY_PATTERN.match(data, s)
        if m is None:
            continue
        if _DIGIT.search(m.group()):  # "sk-learn-compatible-models" is prose, not a key
            found.append(m.group().decode("ascii"))
            end = m.end()
    return found
