"""Helpers shared by the protocol adapters (sans-IO).

Rules:
- Request bodies are decoded strictly: UTF-8 without replacement, no BOM, standard
  JSON only (no NaN/Infinity). Nothing that could silently change text is allowed
  between the bytes and the ``Prompt``: a body that needs such help is a ``ParseError``.
- Error messages name the protocol, the place (``messages[2].content``) and, for
  bytes, the byte offset, so a user can find the spot in the raw body.
- Ids in canned replies are derived from the request bytes (same request, same ids),
  so identical runs stay byte-identical even across a conversation's turns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from promptwitness.errors import ParseError
from promptwitness.model import JSON, Message, Part, RawRequest
from promptwitness.protocols.sse import SSEEvent, SSEParser

# Headers that describe the transport, not the agent: never part of a Prompt.
DROPPED_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "keep-alive"}
)

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_B64URL = _ALNUM + "-_"


def json_type(value: JSON) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - json.loads makes nothing else


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def load_object(protocol: str, body: bytes) -> dict[str, JSON]:
    """The request body as a JSON object, decoded strictly; ``ParseError`` otherwise."""
    if not body:
        raise ParseError(f"{protocol}: body is empty")
    if body.startswith(b"\xef\xbb\xbf"):
        raise ParseError(f"{protocol}: body starts with a UTF-8 byte order mark (not valid JSON)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{protocol}: body is not valid UTF-8 at byte {exc.start} ({exc.reason})"
        ) from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        at = len(text[: exc.pos].encode("utf-8"))
        raise ParseError(f"{protocol}: body is not valid JSON: {exc.msg} at byte {at}") from None
    except ValueError as exc:  # from _no_constant
        raise ParseError(f"{protocol}: body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ParseError(f"{protocol}: body is not usable JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise ParseError(f"{protocol}: body is {json_type(value)}, not a JSON object")
    return value


def want(protocol: str, where: str, value: JSON, *types: type) -> None:
    """Raise ``ParseError`` unless ``value`` is one of ``types`` (``bool`` is not a number)."""
    ok = isinstance(value, types) and not (
        isinstance(value, bool) and bool not in types and (int in types or float in types)
    )
    if not ok:
        names = {
            dict: "an object",
            list: "an array",
            str: "a string",
            bool: "a boolean",
            int: "a number",
            float: "a number",
            type(None): "null",
        }
        expected = " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))
        raise ParseError(f"{protocol}: {where} is {json_type(value)}, not {expected}")


def select_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers for a Prompt: lower-case names in first-seen order, transport
    headers dropped, repeated headers joined with ", " (values verbatim)."""
    out: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low in DROPPED_HEADERS:
            continue
        out[low] = f"{out[low]}, {value}" if low in out else value
    return out


def part_from(protocol: str, where: str, obj: JSON) -> Part:
    """An anthropic/openai style content part: ``{"type": ..., "text": ..., ...}``.

    ``text`` is taken only from a string ``text`` field; every other field (a non-string
    ``text`` too) stays in ``extra`` in request order.
    """
    want(protocol, where, obj, dict)
    assert isinstance(obj, dict)
    if "type" not in obj:
        raise ParseError(f"{protocol}: {where} has no type")
    kind = obj["type"]
    want(protocol, f"{where}.type", kind, str)
    text = obj.get("text")
    if not isinstance(text, str):
        text = None
    extra = {k: v for k, v in obj.items() if k != "type" and not (k == "text" and text is not None)}
    return Part(kind, text, extra)


def content_parts(protocol: str, where: str, content: JSON) -> tuple[Part, ...]:
    """A message's ``content``: a string is one text part, a list is parts."""
    if isinstance(content, str):
        return (Part("text", content),)
    want(protocol, where, content, str, list)
    assert isinstance(content, list)
    return tuple(part_from(protocol, f"{where}[{j}]", p) for j, p in enumerate(content))


def role_message(protocol: str, where: str, obj: JSON) -> Message:
    """A ``{"role": ..., "content": ...}`` message; other fields go to ``extra``.

    A ``null`` content gives no parts and is kept in ``extra`` (so null and absent differ).
    """
    want(protocol, where, obj, dict)
    assert isinstance(obj, dict)
    if "role" not in obj:
        raise ParseError(f"{protocol}: {where} has no role")
    role = obj["role"]
    want(protocol, f"{where}.role", role, str)
    parts: tuple[Part, ...] = ()
    extra: dict[str, JSON] = {}
    for key, value in obj.items():
        if key == "role":
            continue
        if key == "content" and value is not None:
            parts = content_parts(protocol, f"{where}.content", value)
        else:
            extra[key] = value
    return Message(role, parts, extra)


def opt_str(protocol: str, where: str, value: JSON) -> str | None:
    if value is None:
        return None
    want(protocol, where, value, str)
    assert isinstance(value, str)
    return value


def opt_bool(protocol: str, where: str, value: JSON) -> bool:
    if value is None:
        return False
    want(protocol, where, value, bool)
    return bool(value)


def opt_object(protocol: str, where: str, value: JSON) -> dict[str, JSON]:
    if value is None:
        return {}
    want(protocol, where, value, dict)
    assert isinstance(value, dict)
    return value


def opt_list(protocol: str, where: str, value: JSON) -> list[JSON]:
    if value is None:
        return []
    want(protocol, where, value, list)
    assert isinstance(value, list)
    return value


def body_flag(body: bytes, key: str) -> JSON:
    """``body[key]`` when the body is a JSON object, else None; never raises."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value.get(key) if isinstance(value, dict) else None


# -- replies ---------------------------------------------------------------------------


def dumps(value: JSON, *, indent: int | None = None) -> bytes:
    """JSON bytes as providers send them: UTF-8, non-ASCII kept. Text that cannot be
    UTF-8 (a lone surrogate the agent sent as an escape) is escaped instead, so the
    reply still decodes back to the same string."""
    seps = (",", ": ") if indent is not None else (",", ":")
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, separators=seps).encode()
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, indent=indent, separators=seps).encode()


def dumps_text(value: JSON) -> str:
    """Compact JSON text for an SSE ``data:`` line (always encodable as UTF-8)."""
    return dumps(value).decode("utf-8")


def make_id(request: RawRequest, salt: str, length: int, alphabet: str = _B58) -> str:
    """A provider-looking id derived from the request bytes and ``salt``."""
    h = hashlib.sha256(
        salt.encode()
        + b"\0"
        + request.target.encode("utf-8", "surrogatepass")
        + b"\0"
        + request.body
    ).digest()
    n = int.from_bytes(h, "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def hex_id(request: RawRequest, salt: str, length: int) -> str:
    return make_id(request, salt, length, _HEX)


def alnum_id(request: RawRequest, salt: str, length: int) -> str:
    return make_id(request, salt, length, _ALNUM)


def b64_id(request: RawRequest, salt: str, length: int) -> str:
    return make_id(request, salt, length, _B64URL)


def estimate_tokens(n_bytes: int) -> int:
    """A rough token count: about four bytes a token, at least one."""
    return max(1, n_bytes // 4)


def text_tokens(text: str) -> int:
    return estimate_tokens(len(text.encode("utf-8", "surrogatepass")))


def split_text(text: str, pieces: int = 3) -> list[str]:
    """``text`` cut into at most ``pieces`` non-empty slices (by code point), in order.
    The empty text gives no slice."""
    if not text:
        return []
    n = min(pieces, len(text))
    step, rem = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        size = step + (1 if i < rem else 0)
        out.append(text[pos : pos + size])
        pos += size
    return out


SSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
)
JSON_HEADERS: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)


# -- rebuilding answers --------------------------------------------------------------------


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    low = name.lower()
    for k, v in headers:
        if k.lower() == low:
            return v
    return None


def looks_like_sse(headers: Iterable[tuple[str, str]], body: bytes) -> bool:
    """SSE when the content type says so, or when the body starts like an event stream."""
    ctype = (header(headers, "content-type") or "").lower()
    if "text/event-stream" in ctype:
        return True
    if "json" in ctype:
        return False
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:6]
    return head.startswith((b"event:", b"data:", b":", b"id:", b"retry:"))


def sse_events(body: bytes) -> tuple[list[SSEEvent], list[SSEEvent]]:
    """``(dispatched events, trailing incomplete events)`` of an SSE body."""
    parser = SSEParser()
    events = parser.feed(body)
    return events, parser.close()


def loads(data: str | bytes) -> JSON:
    """Parsed JSON or None; never raises."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def dict_at(value: JSON, *keys: str | int) -> dict[str, JSON]:
    """``value[k1][k2]...`` when that is an object, else an empty dict; never raises."""
    for key in keys:
        if isinstance(key, int):
            value = (
                value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
            )
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def str_or_none(value: JSON) -> str | None:
    return value if isinstance(value, str) else None


def error_text(value: JSON) -> str:
    """A provider error object as one line: ``type: message`` (or the JSON)."""
    if isinstance(value, dict):
        kind = value.get("type") or value.get("status") or value.get("code")
        msg = value.get("message")
        if isinstance(msg, str):
            return f"{kind}: {msg}" if kind is not None else msg
    if isinstance(value, str):
        return value
    return dumps_text(value)


def usage_of(value: JSON) -> Mapping[str, JSON]:
    return value if isinstance(value, dict) else {}


def http_error(protocol: str, status: int, body: bytes) -> str:
    """The error a non-2xx response carries, as one line."""
    value = loads(body)
    if isinstance(value, dict) and "error" in value:
        return f"HTTP {status}: {error_text(value['error'])}"
    if isinstance(value, list) and value and isinstance(value[0], dict) and "error" in value[0]:
        return f"HTTP {status}: {error_text(value[0]['error'])}"  # gemini JSON-array streams
    snippet = body[:200].decode("utf-8", errors="replace")
    return f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"


def truncated_json(exc_body: bytes) -> str:
    """Why a JSON body could not be read, for ``Answer.error``."""
    if not exc_body:
        return "truncated body: the response body is empty"
    try:
        json.loads(exc_body)
    except UnicodeDecodeError as exc:
        return f"invalid body: not valid UTF-8 at byte {exc.start}"
    except json.JSONDecodeError as exc:
        return f"truncated or invalid JSON body: {exc.msg} at character {exc.pos}"
    except (ValueError, RecursionError) as exc:
        return f"invalid JSON body: {exc}"
    return "unexpected JSON body"
