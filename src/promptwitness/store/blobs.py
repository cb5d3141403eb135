"""Content-addressed blob encoding: SHA-256 of the raw bytes, zstd on disk.

Rules:
- The address is the SHA-256 of the *uncompressed* bytes, so the same bytes are stored
  once whatever compression produced them, and a blob can be verified when read.
- Compression is an encoding detail recorded next to the data (``zstd`` or ``none``):
  bytes that zstd cannot shrink are stored as they are.
- zstd (de)compressor objects are not thread-safe; each thread keeps its own.
- No database access here: this module turns bytes into rows and rows into bytes.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import zstandard

from promptwitness.errors import Damaged, StoreError

LEVEL = 3
ZSTD = "zstd"
NONE = "none"
CODECS = (ZSTD, NONE)

_local = threading.local()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _compressor() -> zstandard.ZstdCompressor:
    c: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=LEVEL, write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


@dataclass(frozen=True)
class EncodedBlob:
    """One row of the ``blobs`` table."""

    sha256: str
    size: int
    data: bytes
    compression: str


def encode(data: bytes, sha: str | None = None) -> EncodedBlob:
    """Address and compress ``data`` (kept raw when compression does not help).

    ``sha`` may be passed when the caller already hashed ``data``.
    """
    if sha is None:
        sha = sha256_hex(data)
    try:
        packed = _compressor().compress(data)
    except zstandard.ZstdError as exc:  # pragma: no cover - zstd does not fail on bytes
        raise StoreError(f"cannot compress a {len(data)}-byte blob: {exc}") from exc
    if len(packed) < len(data):
        return EncodedBlob(sha, len(data), packed, ZSTD)
    return EncodedBlob(sha, len(data), bytes(data), NONE)


def decode(sha: str, size: int, data: bytes, compression: str, where: str) -> bytes:
    """Bytes of a stored blob, verified against its address.

    ``where`` names the store in error messages.
    """
    if compression == ZSTD:
        try:
            raw = _decompressor().decompress(data, max_output_size=max(size, 1))
        except zstandard.ZstdError as exc:
            raise Damaged(
                f"blob {sha} in {where} cannot be decompressed ({exc}); the store is damaged: "
                "save what is still readable with 'promptwitness export --har FILE' (it lists "
                "what it cannot read) and 'promptwitness import --har FILE' into a fresh store"
            ) from exc
    elif compression == NONE:
        raw = bytes(data)
    else:
        raise StoreError(
            f"blob {sha} in {where} uses compression {compression!r} that this promptwitness "
            "does not know: upgrade promptwitness"
        )
    if len(raw) != size or sha256_hex(raw) != sha:
        raise Damaged(
            f"blob {sha} in {where} does not match its SHA-256 (the store is damaged or was "
            "edited); save what is still readable with 'promptwitness export --har FILE' (it "
            "lists what it cannot read) and 'promptwitness import --har FILE' into a fresh store"
        )
    return raw
