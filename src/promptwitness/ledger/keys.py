"""Ed25519 key files (IO edge): ``PREFIX.key`` (signer, mode 0600) and ``PREFIX.pub``.

Rules:
- The signer key is written once, with ``O_CREAT | O_EXCL`` and mode 0600 from the
  start (never a window where it is readable by others); an existing file is never
  overwritten.
- A signer key file that the group or others may read or write is refused, as ssh does.
- A key is never written into, or read from, a capture store's directory.
- Key material never appears in a message, a ``repr`` or an exception.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from promptwitness.errors import UsageError
from promptwitness.ledger.note import NoteError, Signer, Verifier

KEY_SUFFIX = ".key"
PUB_SUFFIX = ".pub"

__all__ = ["default_key_name", "generate", "load_public", "load_signer", "refuse_in_store"]


def default_key_name() -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-_") or "localhost"
    return f"promptwitness/{host}"


def _paths(prefix: Path) -> tuple[Path, Path]:
    base = str(prefix)
    for suffix in (KEY_SUFFIX, PUB_SUFFIX):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return Path(base + KEY_SUFFIX), Path(base + PUB_SUFFIX)


def refuse_in_store(path: Path, store_root: Path | None) -> None:
    """Raise ``UsageError`` when ``path`` lies inside the capture store's directory."""
    if store_root is None:
        return
    try:
        inside = path.resolve().is_relative_to(store_root.resolve())
    except OSError:
        return
    if inside:
        raise UsageError(
            f"{path} is inside the capture store {store_root}: keys are never kept in the "
            "store; choose another place (e.g. ~/.config/promptwitness/)"
        )


def generate(prefix: Path, name: str | None = None, store_root: Path | None = None) -> Signer:
    """Write ``PREFIX.key`` (0600) and ``PREFIX.pub``; return the signer."""
    key_path, pub_path = _paths(prefix)
    refuse_in_store(key_path, store_root)
    try:
        signer = Signer.generate(name or default_key_name())
    except NoteError as exc:
        raise UsageError(str(exc)) from exc
    for p in (key_path, pub_path):
        if p.exists():
            raise UsageError(f"{p} already exists; keys are never overwritten")
    if not key_path.parent.is_dir():
        raise UsageError(f"the directory {key_path.parent} does not exist")
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot create {key_path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (signer.skey() + "\n").encode("ascii"))
    finally:
        os.close(fd)
    try:
        pub_path.write_text(signer.verifier.vkey() + "\n", encoding="ascii")
    except OSError as exc:
        raise UsageError(f"cannot write {pub_path}: {exc.strerror or exc}") from exc
    return signer


def load_signer(path: Path, store_root: Path | None = None) -> Signer:
    """Read a signer key file, refusing one that others may read."""
    refuse_in_store(path, store_root)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot read the key {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{path} is not a regular file")
        if st.st_mode & 0o077:
            raise UsageError(
                f"the key {path} has mode {stat.S_IMODE(st.st_mode):04o}: others may read it. "
                f"Refusing to use it; run: chmod 600 {path} (and consider generating a new "
                "key if it was exposed)"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        return Signer.parse(data.decode("ascii"))
    except (NoteError, UnicodeDecodeError):
        raise UsageError(
            f"{path} is not a promptwitness signer key (PRIVATE+KEY+NAME+HASH+KEY)"
        ) from None


def load_public(path: Path) -> Verifier:
    """Read a verifier key file (``NAME+HASH+KEY``, one line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the public key {path}: {exc}") from exc
    if text.startswith("PRIVATE+KEY+"):
        raise UsageError(f"{path} is a private key; give the .pub file")
    try:
        return Verifier.parse(text)
    except NoteError as exc:
        raise UsageError(f"{path} is not a verifier key: {exc}") from exc
