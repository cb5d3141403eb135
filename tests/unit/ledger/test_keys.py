"""Key files: mode 0600, never overwritten, never group/world readable, never in a store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from promptwitness.errors import UsageError
from promptwitness.ledger import keys


def test_generate_writes_0600_key_and_public(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        signer = keys.generate(tmp_path / "k", name="example.com/k")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "k.key").stat().st_mode)
    assert mode == 0o600
    assert keys.load_signer(tmp_path / "k.key").verifier == signer.verifier or (
        keys.load_signer(tmp_path / "k.key").verifier.vkey() == signer.verifier.vkey()
    )
    assert keys.load_public(tmp_path / "k.pub").vkey() == signer.verifier.vkey()
    with pytest.raises(UsageError, match="never overwritten"):
        keys.generate(tmp_path / "k")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_readable_key_refused(tmp_path: Path, mode: int) -> None:
    keys.generate(tmp_path / "k")
    os.chmod(tmp_path / "k.key", mode)
    with pytest.raises(UsageError, match="others may read it"):
        keys.load_signer(tmp_path / "k.key")


def test_keys_never_in_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(UsageError, match="never kept in the store"):
        keys.generate(store / "k", store_root=store)
    keys.generate(tmp_path / "k")
    (store / "copy.key").write_bytes((tmp_path / "k.key").read_bytes())
    os.chmod(store / "copy.key", 0o600)
    with pytest.raises(UsageError, match="never kept in the store"):
        keys.load_signer(store / "copy.key", store_root=store)


def test_private_key_given_as_public(tmp_path: Path) -> None:
    keys.generate(tmp_path / "k")
    with pytest.raises(UsageError, match="private key"):
        keys.load_public(tmp_path / "k.key")
