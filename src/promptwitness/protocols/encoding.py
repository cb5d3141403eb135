"""Request content codings (sans-IO): ``Content-Encoding`` decoded, bounded.

Rules:
- One function decodes a body for everyone (``decode_body``): the sink's answer, the
  parsers (``parse_request``), the redactor, ``show`` and the HAR export all see the
  same decoded bytes.
- Codings (RFC 9110 §8.4.1): ``gzip``/``x-gzip`` (several members allowed),
  ``deflate`` (zlib-wrapped as the RFC says, and raw deflate, which real clients send
  too), ``br``, ``zstd`` (several frames allowed), ``identity``. A list
  (``gzip, br``) was applied in order, so it is decoded from the last to the first.
- Bounded: no step ever produces more than ``MAX_DECODED`` bytes (streaming
  decompression with an output limit, so a decompression bomb stops there and costs
  at most that much memory); more is an error, not an outage.
- Never raises: a bomb, a truncated or corrupt stream, trailing bytes after the last
  member/frame or an unknown coding give a ``Decoded`` whose ``error`` is a
  ``CodingError`` (``kind`` says which), with what could be decoded before it in
  ``body`` (at most ``MAX_DECODED`` bytes).
- ``encode_body`` applies the same codings again (deterministically: no time stamp in
  gzip headers), for a body that had to be changed (redaction) after decoding.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import brotli
import zstandard

from promptwitness.errors import (  # re-exported
    CodingError as CodingError,
)
from promptwitness.model import RawRequest

__all__ = [
    "CHUNK",
    "KNOWN_CODINGS",
    "MAX_DECODED",
    "CodingError",
    "Decoded",
    "content_encoding",
    "decode_body",
    "decode_request",
    "encode_body",
    "parse_codings",
]

MAX_DECODED = 64 * 1024 * 1024
"""Bytes one decoding step may produce, at most (64 MiB: far above any real prompt,
far below what would hurt the capture server)."""

CHUNK = 256 * 1024
"""Output produced per decompression call (the bound is checked between calls)."""

KNOWN_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "identity"})

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Decoded:
    """The result of ``decode_body``.

    ``body``: the decoded bytes (on error: what was decoded before it, at most the
    limit). ``codings``: the codings named by the header, lower-case, in the order
    they were applied (``identity`` left out). ``formats``: the format actually found
    for each of them (``gzip``, ``zlib``, ``raw-deflate``, ``br``, ``zstd``), for
    ``encode_body``; shorter than ``codings`` when decoding stopped early.
    """

    body: bytes
    codings: tuple[str, ...]
    formats: tuple[str, ...]
    error: CodingError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        """``gzip`` or ``gzip, br``: the codings as the header lists them."""
        return ", ".join(self.codings)


def parse_codings(value: str) -> tuple[str, ...]:
    """The codings of a ``Content-Encoding`` value (or several, joined with ``,``),
    lower-case, in the order applied, ``identity`` and empty items left out."""
    out = []
    for item in value.split(","):
        token = item.strip().lower()
        if token and token != "identity":  # noqa: S105 - a content coding, not a password
            out.append(token)
    return tuple(out)


def content_encoding(headers: Iterable[tuple[str, str]]) -> str | None:
    """Every ``Content-Encoding`` header's value joined with ``, `` (None: none sent)."""
    found: list[str] | None = None
    for name, value in headers:
        if len(name) == 16 and name.lower() == "content-encoding":
            if found is None:
                found = []
            found.append(value)
    return None if found is None else ", ".join(found)


# -- decoders: one step each, (data, limit) -> (output, format); raise CodingError --


def _zlib_stream(
    data: bytes, limit: int, wbits: int, coding: str, fmt: str, members: bool
) -> bytes:
    out = bytearray()
    rest = data
    first = True
    while first or (members and rest):
        first = False
        d = zlib.decompressobj(wbits)
        tail = rest
        try:
            while True:
                chunk = d.decompress(tail, CHUNK)
                out += chunk
                if len(out) > limit:
                    del out[limit:]
                    raise _too_large(coding, limit, bytes(out))
                tail = d.unconsumed_tail
                if d.eof:
                    break
                if not tail and not chunk:
                    break
            if not d.eof:
                out += d.flush()
                if len(out) > limit:
                    del out[limit:]
                    raise _too_large(coding, limit, bytes(out))
        except zlib.error as exc:
            raise _Partial(
                CodingError("corrupt", coding, f"not a valid {fmt} stream ({exc})"), bytes(out)
            ) from None
        if not d.eof:
            raise _Partial(
                CodingError(
                    "truncated", coding, f"the {fmt} stream ends early ({len(data)} bytes received)"
                ),
                bytes(out),
            )
        rest = d.unused_data
    if rest:
        raise _Partial(
            CodingError("corrupt", coding, f"{len(rest)} bytes after the end of the {fmt} stream"),
            bytes(out),
        )
    return bytes(out)


def _gzip(data: bytes, limit: int, coding: str) -> tuple[bytes, str]:
    if not data.startswith(b"\x1f\x8b"):
        raise _Partial(CodingError("corrupt", coding, "not a gzip stream (no 1f 8b header)"), b"")
    return _zlib_stream(data, limit, 16 + zlib.MAX_WBITS, coding, "gzip", True), "gzip"


def _zlib_header(data: bytes) -> bool:
    return (
        len(data) >= 2
        and data[0] & 0x0F == 8
        and data[0] >> 4 <= 7
        and ((data[0] << 8) | data[1]) % 31 == 0
    )


def _deflate(data: bytes, limit: int, coding: str) -> tuple[bytes, str]:
    # RFC 9110 says zlib-wrapped; some clients send raw deflate. A zlib header is two
    # bytes with a checksum, so trying it first cannot misread a raw stream for long.
    if _zlib_header(data):
        try:
            return _zlib_stream(data, limit, zlib.MAX_WBITS, coding, "deflate", False), "zlib"
        except _Partial as p:
            if p.error.kind == "too-large":
                raise
    return _zlib_stream(data, limit, -zlib.MAX_WBITS, coding, "deflate", False), "raw-deflate"


def _br(data: bytes, limit: int, coding: str) -> tuple[bytes, str]:
    d = brotli.Decompressor()
    out = bytearray()
    try:
        out += d.process(data, output_buffer_limit=CHUNK)
        stalled = False
        while len(out) <= limit and not d.is_finished():
            chunk = d.process(b"", output_buffer_limit=CHUNK)
            if not chunk:
                if stalled or d.can_accept_more_data():
                    break  # it wants more input: there is none
                stalled = True
            out += chunk
    except brotli.error as exc:
        raise _Partial(
            CodingError("corrupt", coding, f"not a valid brotli stream ({exc})"), bytes(out[:limit])
        ) from None
    if len(out) > limit:
        raise _too_large(coding, limit, bytes(out[:limit]))
    if not d.is_finished():
        raise _Partial(CodingError("truncated", coding, "the brotli stream ends early"), bytes(out))
    return bytes(out), "br"


def _zstd(data: bytes, limit: int, coding: str) -> tuple[bytes, str]:
    if not data.startswith(_ZSTD_MAGIC):
        raise _Partial(CodingError("corrupt", coding, "not a zstd stream (no frame magic)"), b"")
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(data), read_across_frames=True, closefd=False
    )
    try:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            out += chunk
            if len(out) > limit:
                raise _too_large(coding, limit, bytes(out[:limit]))
    except zstandard.ZstdError as exc:
        kind = "truncated" if "incomplete" in str(exc).lower() else "corrupt"
        raise _Partial(
            CodingError(kind, coding, f"not a valid zstd stream ({exc})"), bytes(out)
        ) from None
    finally:
        reader.close()  # type: ignore[no-untyped-call]
    problem = _zstd_frames_problem(data)
    if problem is not None:
        kind, message = problem
        raise _Partial(CodingError(kind, coding, message), bytes(out))
    return bytes(out), "zstd"


def _zstd_frames_problem(data: bytes) -> tuple[str, str] | None:
    """Walk the frames' and blocks' headers (RFC 8878): the stream reader takes a
    frame cut short for a finished one, this does not. None: every frame is whole."""
    pos, n = 0, len(data)
    while pos < n:
        if pos + 4 > n:
            return "truncated", "the zstd stream ends inside a frame header"
        magic = int.from_bytes(data[pos : pos + 4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame
            pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "little")
            if pos > n:
                return "truncated", "the zstd stream ends inside a skippable frame"
            continue
        if magic != 0xFD2FB528:
            return "corrupt", f"{n - pos} bytes after the end of the zstd stream"
        try:
            header = zstandard.frame_header_size(data[pos : pos + 18])
        except zstandard.ZstdError:
            return "truncated", "the zstd stream ends inside a frame header"
        checksum = pos + 4 < n and bool(data[pos + 4] & 0x04)
        pos += header
        while True:
            if pos + 3 > n:
                return "truncated", "the zstd stream ends early (a block is missing)"
            h = int.from_bytes(data[pos : pos + 3], "little")
            kind, size = (h >> 1) & 3, h >> 3
            if kind == 3:
                return "corrupt", "a zstd block of reserved type"
            pos += 3 + (1 if kind == 1 else size)
            if pos > n:
                return "truncated", "the zstd stream ends inside a block"
            if h & 1:
                break
        pos += 4 if checksum else 0
        if pos > n:
            return "truncated", "the zstd stream ends inside a frame checksum"
    return None


_DECODERS: dict[str, Callable[[bytes, int, str], tuple[bytes, str]]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _br,
    "zstd": _zstd,
}


class _Partial(Exception):
    def __init__(self, error: CodingError, body: bytes) -> None:
        super().__init__(str(error))
        self.error = error
        self.body = body


def _too_large(coding: str, limit: int, body: bytes) -> _Partial:
    return _Partial(
        CodingError(
            "too-large",
            coding,
            f"decodes to more than {limit} bytes (a decompression bomb?); "
            f"the first {limit} bytes were decoded",
        ),
        body,
    )


def decode_body(body: bytes, content_encoding: str, limit: int = MAX_DECODED) -> Decoded:
    """``body`` with every coding of ``content_encoding`` undone (last applied first).
    Never raises; see the module docstring."""
    codings = parse_codings(content_encoding)
    formats: list[str] = []
    data = body
    for coding in reversed(codings):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            err = CodingError("unknown", coding, "unknown content coding")
            return Decoded(data, codings, tuple(reversed(formats)), err)
        try:
            data, fmt = decoder(data, limit, coding)
        except _Partial as p:
            return Decoded(p.body, codings, tuple(reversed(formats)), p.error)
        except Exception as exc:  # pragma: no cover - a library surprise, never an outage
            err = CodingError("corrupt", coding, f"cannot decode ({type(exc).__name__}: {exc})")
            return Decoded(b"", codings, tuple(reversed(formats)), err)
        formats.append(fmt)
    return Decoded(data, codings, tuple(reversed(formats)))


def _encode_one(data: bytes, fmt: str) -> bytes:
    if fmt == "gzip":
        c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # mtime 0: deterministic
        return c.compress(data) + c.flush()
    if fmt == "zlib":
        return zlib.compress(data)
    if fmt == "raw-deflate":
        c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if fmt == "br":
        return bytes(brotli.compress(data))
    if fmt == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    raise ValueError(f"cannot encode {fmt!r}")


def encode_body(data: bytes, formats: Iterable[str]) -> bytes:
    """``data`` with ``formats`` (``Decoded.formats``, in the order applied) applied
    again. Raises ``ValueError`` for a format it does not know."""
    for fmt in formats:
        data = _encode_one(data, fmt)
    return data


def decode_request(req: RawRequest) -> tuple[RawRequest, CodingError | None]:
    """``req`` with its body decoded (headers unchanged), or ``req`` itself with the
    error when it cannot be decoded. No ``Content-Encoding``: ``req`` as it is."""
    value = content_encoding(req.headers)
    if value is None or not req.body:
        return req, None
    decoded = decode_body(req.body, value)
    if decoded.error is not None:
        return req, decoded.error
    if not decoded.codings:
        return req, None
    return RawRequest(req.method, req.target, req.headers, decoded.body), None
