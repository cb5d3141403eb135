"""C2SP signed notes and checkpoints, against golang.org/x/mod/sumdb/note's vector."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from promptwitness.ledger import note as N

VEC = json.loads(
    (
        Path(__file__).resolve().parents[2] / "fixtures" / "merkle" / "note_golang_sumdb.json"
    ).read_text()
)


def test_go_vector_sign_is_byte_identical() -> None:
    signer = N.Signer.parse(VEC["skey"])
    assert signer.verifier.vkey() == VEC["vkey"]
    assert N.sign_note(VEC["text"], [signer]) == VEC["signed"]


def test_go_vector_opens_and_rejects_changes() -> None:
    v = N.Verifier.parse(VEC["vkey"])
    assert v.key_id == int(VEC["vkey"].split("+")[1], 16)
    note, good = N.open_note(VEC["signed"], [v])
    assert note.text == VEC["text"] and good == [v]
    with pytest.raises(N.NoteError):
        N.open_note(VEC["signed"].replace("cryptography", "cryptographY"), [v])
    other = N.Verifier.parse(VEC["other_vkey"])
    with pytest.raises(N.NoteError, match="no signature by a known key"):
        N.open_note(VEC["signed"], [other])


def test_key_mangling_refused() -> None:
    vkey = VEC["vkey"]
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(N.NoteError):
            N.Verifier.parse(mangled)


def test_signer_repr_and_errors_hide_the_key() -> None:
    s = N.Signer.parse(VEC["skey"])
    material = VEC["skey"].rsplit("+", 1)[1]
    assert material not in repr(s)
    bad = VEC["skey"][:-4] + "AAAA"
    with pytest.raises(N.NoteError) as err:
        N.Signer.parse(bad)
    assert material[:20] not in str(err.value)


def test_checkpoint_roundtrip_and_several_signers() -> None:
    a, b = N.Signer.generate("example.com/a"), N.Signer.generate("example.com/b")
    root = bytes(range(32))
    text = N.checkpoint_text("example.com/log", 12, root)
    assert text == f"example.com/log\n12\n{base64.b64encode(root).decode()}\n"
    signed = N.sign_note(text, [a, b])
    note, good = N.open_note(signed, [b.verifier])
    assert good == [b.verifier]
    cp = N.parse_checkpoint(note.text)
    assert (cp.origin, cp.size, cp.root) == ("example.com/log", 12, root)
    lines = signed.splitlines()
    assert lines[-2].startswith("\u2014 example.com/a ") and lines[-1].startswith(
        "\u2014 example.com/b "
    )


@pytest.mark.parametrize(
    "text",
    [
        "o\n012\nAAAA\n",
        "o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n1\nAAAA\n",
        "o\n1\n",
        "o\n1\n" + base64.b64encode(bytes(32)).decode(),
    ],
)
def test_bad_checkpoints(text: str) -> None:
    with pytest.raises(N.NoteError):
        N.parse_checkpoint(text)


def test_every_flipped_signature_byte_is_caught() -> None:
    s = N.Signer.generate("k")
    signed = N.sign_note("o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", [s])
    sig = N.parse_note(signed).signatures[0]
    for i in range(len(sig.signature)):
        bad = bytearray(sig.signature)
        bad[i] ^= 0x01
        line = N.NoteSignature(sig.name, sig.key_id, bytes(bad)).line()
        tampered = signed[: signed.rindex("\u2014")] + line
        with pytest.raises(N.NoteError):
            N.open_note(tampered, [s.verifier])
