"""Incremental Server-Sent-Events parsing and encoding (sans-IO, in the h11 style).

Bytes go in with ``SSEParser.feed``; complete events come out. ``close`` ends the
stream and reports an unterminated trailing event (``complete=False``) instead of
silently dropping it, because a cut stream is exactly what we need to see.

Rules (WHATWG HTML, "Server-sent events", parsing an event stream):
- A UTF-8 byte order mark at the very start of the stream is skipped (once).
- Lines end with CRLF, LF or CR. A CR that ends one chunk and an LF that starts the
  next are a single line end: line splitting never depends on how bytes are chunked.
- A line starting with ``:`` is a comment. ``field:value`` with one leading space of
  the value removed; a line without a colon is a field with an empty value.
- Fields: ``event`` (the type), ``data`` (appended; lines joined with ``\\n``), ``id``
  (ignored when it contains NUL; persists across events), ``retry`` (ASCII digits only).
  Other fields are ignored.
- A blank line dispatches the event when at least one ``data`` field was seen;
  otherwise the event type is reset and nothing is dispatched.
- Lines are decoded from UTF-8 only to build the event view, with ``errors="replace"``;
  ``invalid_utf8`` records that a replacement happened. Line ends are ASCII, so a
  multi-byte character split across chunks is decoded whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser", "encode_event"]

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event.

    ``event``: the ``event`` field, None when absent or empty (the browser's "message").
    ``id``: the last event id seen so far in the stream (None if never set).
    ``retry``: the ``retry`` value given inside this event, if any.
    ``complete``: False for a trailing event that ``close`` flushed without its blank line.
    """

    event: str | None
    data: str
    id: str | None = None
    retry: int | None = None
    complete: bool = True


class SSEParser:
    """Bytes in, events out. Feed chunks as they arrive, then call ``close`` once."""

    def __init__(self) -> None:
        self._buf = bytearray()  # bytes of the current, unterminated line
        self._bom_checked = False
        self._head = bytearray()  # the first bytes, until the BOM question is settled
        self._skip_lf = False  # the previous chunk ended in CR
        self._closed = False
        # the event being built
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        self._seen_field = False
        self._last_id: str | None = None
        self.invalid_utf8 = False
        """True once any line contained bytes that are not valid UTF-8."""

    # -- input --------------------------------------------------------------------

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        if self._closed:
            raise ValueError("SSEParser.feed after close")
        if not self._bom_checked:
            self._head += data
            if len(self._head) < len(_BOM) and _BOM.startswith(bytes(self._head)):
                return []  # could still be a BOM: wait for more
            self._bom_checked = True
            data = bytes(self._head)
            self._head.clear()
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        if self._skip_lf and data:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        out: list[SSEEvent] = []
        pos = 0
        for m in _LINE_END.finditer(data):
            if m.group() == b"\r" and m.end() == len(data):
                self._skip_lf = True  # an LF starting the next chunk belongs to this CR
            self._buf += data[pos : m.start()]
            line = bytes(self._buf)
            self._buf.clear()
            pos = m.end()
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        self._buf += data[pos:]
        return out

    def close(self) -> list[SSEEvent]:
        """End of stream: return the trailing event if one was left unterminated."""
        if self._closed:
            return []
        self._closed = True
        if not self._bom_checked:
            self._bom_checked = True
            self._buf += self._head  # a lone prefix of a BOM is content, not a BOM
            self._head.clear()
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            ev = self._line(line)
            if ev is not None:  # pragma: no cover - a blank line is never left in _buf
                return [ev]
        if self._data or self._seen_field:
            ev = SSEEvent(
                self._event or None,
                "\n".join(self._data),
                self._last_id,
                self._retry,
                complete=False,
            )
            self._reset()
            return [ev]
        return []

    # -- lines --------------------------------------------------------------------

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.invalid_utf8 = True
            return raw.decode("utf-8", errors="replace")

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._retry = None
        self._seen_field = False

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            if not self._data:
                self._reset()
                return None
            ev = SSEEvent(self._event or None, "\n".join(self._data), self._last_id, self._retry)
            self._reset()
            return ev
        if raw[:1] == b":":
            return None
        line = self._decode(raw)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._seen_field = True
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry" and value and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None


def encode_event(event: str | None, data: str, *, eol: str = "\n") -> bytes:
    """One SSE event as bytes: an ``event:`` line when ``event`` is given, one ``data:``
    line per line of ``data`` (split at CRLF, CR or LF, so a parser gives back ``data``
    with ``\\n`` line ends), then a blank line. ``eol`` is the line end to write."""
    if event is not None and ("\r" in event or "\n" in event):
        raise ValueError("an SSE event name cannot contain a line end")
    if eol not in ("\n", "\r\n", "\r"):
        raise ValueError("eol must be LF, CRLF or CR")
    lines = [] if event is None else [f"event: {event}"]
    lines += [f"data: {line}" for line in re.split(r"\r\n|\r|\n", data)]
    return (eol.join(lines) + eol + eol).encode("utf-8")
