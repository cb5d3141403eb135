"""Blob encoding: address of the raw bytes, zstd or raw, verified on read."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.errors import StoreError
from promptwitness.store import blobs


@settings(max_examples=200)
@given(st.binary(max_size=8192))
def test_encode_decode_round_trip(data: bytes) -> None:
    b = blobs.encode(data)
    assert b.sha256 == hashlib.sha256(data).hexdigest() and b.size == len(data)
    assert b.compression in blobs.CODECS
    assert blobs.decode(b.sha256, b.size, b.data, b.compression, "here") == data


def test_compressible_bytes_are_compressed() -> None:
    data = b'{"role":"user","content":"hello"}' * 1000
    b = blobs.encode(data)
    assert b.compression == "zstd" and len(b.data) < len(data) // 10


def test_corruption_is_reported() -> None:
    b = blobs.encode(b"x" * 1000)
    with pytest.raises(StoreError, match="cannot be decompressed"):
        blobs.decode(b.sha256, b.size, b"\x28\xb5\x2f\xfd garbage", "zstd", "S")
    with pytest.raises(StoreError, match="does not match its SHA-256"):
        blobs.decode(b.sha256, 3, b"abc", "none", "S")
    with pytest.raises(StoreError, match="upgrade promptwitness"):
        blobs.decode(b.sha256, b.size, b.data, "brotli", "S")
