"""C2SP signed notes and tlog checkpoints with Ed25519 keys (sans-IO).

- Signed note (https://c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank
  line, then signature lines ``— NAME BASE64(key ID || signature)``. The key ID is
  ``SHA-256(NAME || 0x0A || 0x01 || public key)[:4]``; the signature is Ed25519 over the
  text (final newline included).
- Verifier key: ``NAME+HEX8(key ID)+BASE64(0x01 || public key)``; signer key:
  ``PRIVATE+KEY+NAME+HEX8(key ID)+BASE64(0x01 || seed)`` (the golang.org/x/mod/sumdb/note
  encodings, so Go tools read our keys and we read theirs).
- Checkpoint (https://c2sp.org/tlog-checkpoint): the note text
  ``origin \\n size \\n base64(root) \\n`` plus optional extension lines.

A signature from a key the verifier does not know is ignored (as the spec says); a
signature from a known key that fails makes the whole note bad.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from promptwitness.errors import (  # re-exported
    NoteError as NoteError,
)

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
_NAME_BAD = re.compile(r"[\s+]")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

__all__ = [
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "Signer",
    "Verifier",
    "checkpoint_text",
    "key_id",
    "normalize_note",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "sign_note",
]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def check_name(name: str) -> str:
    if not name or _NAME_BAD.search(name) or _CONTROL.search(name) or "\n" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` as a big-endian integer."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Verifier:
    """An Ed25519 verifier key with its name."""

    def __init__(self, name: str, public_key: bytes) -> None:
        check_name(name)
        if len(public_key) != 32:
            raise NoteError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read ``NAME+HEX8+BASE64(0x01 || key)``."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise NoteError("a verifier key reads NAME+HASH+KEY (HASH: 8 hex digits)")
        name, hash_hex, key_b64 = parts
        raw = _b64decode(key_b64, "the verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        v = cls(name, raw[1:])
        if v.key_id != int(hash_hex, 16):
            raise NoteError(f"the verifier key's hash {hash_hex} does not match its name and key")
        return v

    @property
    def id(self) -> str:
        """``NAME+HEX8``: how this key is named in messages and DSSE ``keyid``s."""
        return f"{self.name}+{self.key_id:08x}"

    def vkey(self) -> str:
        material = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.id}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.id!r})"


class Signer:
    """An Ed25519 signing key with its name. ``repr`` never shows the key."""

    def __init__(self, name: str, seed: bytes) -> None:
        check_name(name)
        if len(seed) != 32:
            raise NoteError("an Ed25519 private key seed has 32 bytes")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier = Verifier(name, _raw_public(self._key.public_key()))

    @classmethod
    def generate(cls, name: str) -> Signer:
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, seed)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """Read ``PRIVATE+KEY+NAME+HEX8+BASE64(0x01 || seed)``. Errors never quote the key."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key reads PRIVATE+KEY+NAME+HASH+KEY")
        name, hash_hex, key_b64 = parts[2:]
        if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
            raise NoteError("the signer key's hash is not 8 hex digits")
        try:
            raw = base64.b64decode(key_b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise NoteError("the signer key's material is not valid base64") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("the signer key is not an Ed25519 key (type 0x01, 32 bytes)")
        s = cls(name, raw[1:])
        if s.verifier.key_id != int(hash_hex, 16):
            raise NoteError("the signer key's hash does not match its name and key")
        return s

    def skey(self) -> str:
        """The key in its file form. Callers write it to a 0600 file and nowhere else."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        material = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"PRIVATE+KEY+{self.verifier.id}+{material}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Signer({self.verifier.id!r})"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: int
    signature: bytes  # without the 4-byte key ID

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("a note must not contain control characters other than newline")


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of ``text`` (which must end in a newline)."""
    _check_text(text)
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    message = text.encode("utf-8")
    lines = [NoteSignature(s.name, s.verifier.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def normalize_note(note: str) -> str:
    """A note as read from a file or a terminal: a leading BOM, CRLF line ends and
    trailing blank lines (``echo "$(promptwitness ledger checkpoint)" > f`` adds one; an
    editor may add more, or drop the last newline) are what copying does to a note, not
    part of it. Signatures still cover the exact text."""
    text = note.removeprefix("\ufeff").replace("\r\n", "\n")
    return text.rstrip("\n \t") + "\n" if text.strip() else text


def parse_note(note: str) -> Note:
    """Split a signed note into its text and signatures (none verified yet)."""
    if _CONTROL.search(note):
        raise NoteError("malformed note: control characters other than newline")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs: list[NoteSignature] = []
    for line in block.split("\n")[:-1]:
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed note: {line[:40]!r} is not a signature line")
        rest = line[len(SIG_PREFIX) :]
        name, sep, b64 = rest.partition(" ")
        if not sep or " " in b64:
            raise NoteError("malformed note: a signature line reads '— NAME SIGNATURE'")
        check_name(name)
        blob = _b64decode(b64, "a note signature")
        if len(blob) < 5:
            raise NoteError("malformed note: a signature is too short")
        sigs.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
    if not sigs:
        raise NoteError("malformed note: no signature lines")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError("malformed note: too many signatures")
    return Note(text, tuple(sigs))


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[Note, list[Verifier]]:
    """Verify ``note`` with the known ``verifiers``; return it and the keys that signed it.

    Raises ``NoteError`` when a known key's signature fails, or when no known key signed.
    """
    parsed = parse_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = parsed.text.encode("utf-8")
    good: list[Verifier] = []
    for sig in parsed.signatures:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            continue
        if not v.verify(message, sig.signature):
            raise NoteError(f"the signature of {v.id} does not verify")
        if v not in good:
            good.append(v)
    if not good:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        raise NoteError(f"no signature by a known key (the note is signed by {names})")
    return parsed, good


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        return checkpoint_text(self.origin, self.size, self.root, self.extensions)


def checkpoint_text(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    if not origin or "\n" in origin:
        raise NoteError("a checkpoint's origin must be one non-empty line")
    if size < 0:
        raise NoteError("a tree size cannot be negative")
    for ext in extensions:
        if not ext or "\n" in ext:
            raise NoteError("checkpoint extension lines must be non-empty single lines")
    body = [origin, str(size), base64.b64encode(root).decode("ascii"), *extensions]
    return "\n".join(body) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint's note text (not the signatures)."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint's text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("a checkpoint has at least three non-empty lines")
    origin, size_text, root_b64, *ext = lines
    if not _DECIMAL.fullmatch(size_text):
        raise NoteError(f"the checkpoint's tree size {size_text!r} is not a decimal number")
    root = _b64decode(root_b64, "the checkpoint's root hash")
    if len(root) != 32:
        raise NoteError(f"the checkpoint's root hash has {len(root)} bytes, not 32")
    return Checkpoint(origin, int(size_text), root, tuple(ext))
