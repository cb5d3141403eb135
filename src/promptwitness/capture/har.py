"""HAR 1.2 export and import (IO edge for other tools' captures).

Rules:
- Export is lossless for what HAR can carry: bodies that are valid UTF-8 go out as
  ``text``; any other bytes as base64 (``content.encoding: "base64"`` on responses; on
  requests, where HAR 1.2 has no encoding field, ``postData._encoding: "base64"``).
  Exact values HAR cannot hold (epoch start time, a missing status, our ids) travel in
  each entry's ``_promptwitness`` object.
- A request body sent with a ``Content-Encoding`` goes out as stored: the bytes
  received, or (when redaction had to replace a secret in it) the redacted body
  encoded again; never a secret inside compressed bytes. ``_promptwitness.
  request_coding`` says which, with the received and decoded sizes and digests.
- The request target is kept exactly: it is taken from ``request.url`` after the
  authority, never rebuilt from ``queryString``.
- Import validates the structure and names the entry and field that is wrong
  (``UsageError``). Imported exchanges are NOT redacted here: the caller passes them
  through ``capture.redact.Redactor`` before they reach the store.
"""

from __future__ import annotations

import base64
import binascii
import http
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from promptwitness import __version__
from promptwitness.errors import StoreError, UsageError
from promptwitness.model import CapturedExchange

if TYPE_CHECKING:
    from promptwitness.store import Store, StoredExchange

HAR_VERSION = "1.2"
EXT = "_promptwitness"


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    low = name.lower()
    for k, v in headers:
        if k.lower() == low:
            return v
    return None


def _har_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _text_or_base64(body: bytes) -> tuple[str, bool]:
    """``(text, is_base64)``."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _started_iso(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):  # the exact value is in _promptwitness
        return "1970-01-01T00:00:00.000+00:00"


def _status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _http_version(v: str) -> str:
    return v if v.upper().startswith("HTTP/") else f"HTTP/{v}"


def export_entry(x: StoredExchange, request_body: bytes, response_body: bytes) -> dict[str, Any]:
    """One HAR entry for a stored exchange and its bodies."""
    query = x.target.split("?", 1)[1] if "?" in x.target else ""
    wait = round(x.duration * 1000, 3) if x.duration is not None else 0
    request: dict[str, Any] = {
        "method": x.method,
        "url": f"{x.scheme}://{x.host}{x.target}",
        "httpVersion": _http_version(x.http_version),
        "cookies": [],
        "headers": _har_headers(x.request_headers),
        "queryString": [
            {"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(request_body),
    }
    if request_body:
        text, b64 = _text_or_base64(request_body)
        post: dict[str, Any] = {
            "mimeType": _header(x.request_headers, "content-type") or "",
            "text": text,
        }
        if b64:
            post["_encoding"] = "base64"
            post["comment"] = "text is base64: the body is not valid UTF-8"
        request["postData"] = post
    rtext, rb64 = _text_or_base64(response_body)
    content: dict[str, Any] = {
        "size": len(response_body),
        "mimeType": _header(x.response_headers, "content-type") or "",
        "text": rtext,
    }
    if rb64:
        content["encoding"] = "base64"
    return {
        "startedDateTime": _started_iso(x.started),
        "time": wait,
        "request": request,
        "response": {
            "status": x.status if x.status is not None else 0,
            "statusText": _status_text(x.status),
            "httpVersion": _http_version(x.http_version),
            "cookies": [],
            "headers": _har_headers(x.response_headers),
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response_body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": 0},
        EXT: {
            "id": x.id,
            "run": x.run,
            "mode": x.mode,
            "protocol": x.protocol,
            "error": x.error,
            "parse_error": x.parse_error,
            "upstream": x.upstream,
            "client": x.client,
            "started": x.started,
            "duration": x.duration,
            "status": x.status,
            "http_version": x.http_version,
            "request_sha256": x.request_sha256,
            "response_sha256": x.response_sha256,
            "redactions": list(x.redactions),
            # a body sent with a Content-Encoding: what was received (see capture.redact)
            "request_coding": dict(x.request_coding) if x.request_coding else None,
        },
    }


def export_har(
    store: Store, exchanges: Iterable[StoredExchange], unreadable: list[str] | None = None
) -> dict[str, Any]:
    """A HAR 1.2 document (a JSON value) for ``exchanges``, bodies read from ``store``.

    With ``unreadable`` (a list to fill), an exchange one of whose bodies cannot be read
    (a corrupt or missing blob) is left out and said there, one line each, and the
    rest is exported; without it, the first such error is raised."""
    entries = []
    for x in exchanges:
        try:
            entries.append(export_entry(x, store.request_body(x), store.response_body(x)))
        except StoreError as exc:
            if unreadable is None:
                raise
            unreadable.append(f"exchange {x.id}: {exc}")
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "promptwitness", "version": __version__},
            "pages": [],
            "entries": entries,
        }
    }


# -- import -----------------------------------------------------------------------------


class _Entry:
    """Typed access to one entry, with errors that name it."""

    def __init__(self, index: int, data: object) -> None:
        self.index = index
        if not isinstance(data, Mapping):
            raise self.error("", "is not an object")
        self.data: Mapping[str, Any] = data

    def error(self, field: str, problem: str) -> UsageError:
        where = f"HAR entry {self.index}" + (f" field {field}" if field else "")
        return UsageError(f"{where} {problem}; is this a HAR 1.2 file?")

    def obj(
        self, parent: Mapping[str, Any], key: str, field: str, required: bool = True
    ) -> Mapping[str, Any] | None:
        v = parent.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, Mapping):
            raise self.error(field, "is missing or not an object")
        return v

    def string(
        self, parent: Mapping[str, Any], key: str, field: str, required: bool = True
    ) -> str | None:
        v = parent.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, str):
            raise self.error(field, "is missing or not a string")
        return v

    def number(self, parent: Mapping[str, Any], key: str, field: str) -> float | None:
        v = parent.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(field, "is not a number")
        return float(v)

    def headers(self, parent: Mapping[str, Any], field: str) -> list[tuple[str, str]]:
        v = parent.get("headers", [])
        if not isinstance(v, list):
            raise self.error(field, "is not a list")
        out = []
        for i, h in enumerate(v):
            if not (
                isinstance(h, Mapping)
                and isinstance(h.get("name"), str)
                and isinstance(h.get("value"), str)
            ):
                raise self.error(f"{field}[{i}]", "is not a {name, value} pair of strings")
            out.append((h["name"], h["value"]))
        return out

    def body(self, holder: Mapping[str, Any] | None, field: str, response: bool) -> bytes:
        if holder is None:
            return b""
        text = holder.get("text")
        if text is None:
            params = holder.get("params")
            if not response and isinstance(params, list) and params:
                return self._params(params, field)
            return b""
        if not isinstance(text, str):
            raise self.error(f"{field}.text", "is not a string")
        encoding = holder.get("encoding", holder.get("_encoding"))
        if isinstance(holder.get("_base64"), str) and not text:
            text, encoding = holder["_base64"], "base64"
        if encoding is None or encoding == "":
            return text.encode("utf-8", "surrogatepass")
        if isinstance(encoding, str) and encoding.lower() == "base64":
            try:
                return base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.error(f"{field}.text", f"is not valid base64 ({exc})") from None
        raise self.error(f"{field}.encoding", f"is {encoding!r}; only base64 is understood")

    def _params(self, params: list[Any], field: str) -> bytes:
        from urllib.parse import urlencode

        pairs = []
        for i, p in enumerate(params):
            if not (isinstance(p, Mapping) and isinstance(p.get("name"), str)):
                raise self.error(f"{field}.params[{i}]", "is not a {name, value} pair")
            pairs.append((p["name"], str(p.get("value", ""))))
        return urlencode(pairs).encode("utf-8")


def _split_url(url: str) -> tuple[str, str, str] | None:
    """``(scheme, host, target)`` of an absolute URL, target kept exactly."""
    if "://" not in url:
        return None
    scheme, rest = url.split("://", 1)
    if not scheme:
        return None
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    host, target = rest[:cut], rest[cut:]
    target = target.split("#", 1)[0]
    if not target.startswith("/"):
        target = "/" + target
    return scheme.lower(), host, target


def _version(v: str | None) -> str:
    if not v:
        return "1.1"
    low = v.strip().lower()
    if low in ("h2", "http/2", "http/2.0"):
        return "2"
    if low in ("h3", "http/3", "http/3.0"):
        return "3"
    return v.strip()[5:] if low.startswith("http/") else v.strip()


def _parse_time(e: _Entry, text: str) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise e.error("startedDateTime", f"is not an ISO 8601 date ({text!r})") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def import_entry(index: int, data: object) -> CapturedExchange:
    e = _Entry(index, data)
    req = e.obj(e.data, "request", "request")
    resp = e.obj(e.data, "response", "response")
    assert req is not None and resp is not None
    ext = e.data.get(EXT)
    ext = ext if isinstance(ext, Mapping) else {}

    method = e.string(req, "method", "request.method")
    url = e.string(req, "url", "request.url")
    assert method is not None and url is not None
    parts = _split_url(url)
    if parts is None:
        raise e.error("request.url", f"is not an absolute URL ({url[:80]!r})")
    scheme, host, target = parts

    status_f = e.number(resp, "status", "response.status")
    if status_f is None:
        raise e.error("response.status", "is missing")
    status = int(status_f) if status_f > 0 else None  # HAR writes 0 for "no response"

    if isinstance(ext.get("started"), int | float) and not isinstance(ext.get("started"), bool):
        started = float(ext["started"])
    else:
        when = e.string(e.data, "startedDateTime", "startedDateTime")
        assert when is not None
        started = _parse_time(e, when)
    if "duration" in ext and (ext["duration"] is None or isinstance(ext["duration"], int | float)):
        duration = float(ext["duration"]) if ext["duration"] is not None else None
    else:
        t = e.number(e.data, "time", "time")
        duration = t / 1000 if t is not None and t >= 0 else None

    http_version = ext.get("http_version")
    if not isinstance(http_version, str):
        http_version = _version(e.string(req, "httpVersion", "request.httpVersion", False))

    def opt(key: str) -> str | None:
        v = ext.get(key)
        return v if isinstance(v, str) else None

    return CapturedExchange(
        method=method,
        target=target,
        host=host,
        scheme=scheme,
        http_version=http_version,
        request_headers=e.headers(req, "request.headers"),
        request_body=e.body(
            e.obj(req, "postData", "request.postData", False), "request.postData", response=False
        ),
        status=status,
        response_headers=e.headers(resp, "response.headers"),
        response_body=e.body(
            e.obj(resp, "content", "response.content", False), "response.content", response=True
        ),
        started=started,
        duration=duration,
        mode="import",
        upstream=opt("upstream"),
        error=opt("error"),
    )


def import_har(data: object) -> list[CapturedExchange]:
    """The exchanges of a HAR 1.2 document (as parsed JSON), not yet redacted."""
    if not isinstance(data, Mapping) or not isinstance(data.get("log"), Mapping):
        raise UsageError('not a HAR file: the top level has no "log" object')
    entries = data["log"].get("entries")
    if not isinstance(entries, list):
        raise UsageError("not a HAR file: log.entries is missing or not a list")
    return [import_entry(i, entry) for i, entry in enumerate(entries)]
