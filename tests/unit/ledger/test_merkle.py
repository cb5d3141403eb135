"""RFC 9162 hashing and proofs against transparency-dev/merkle's published vectors
(tests/fixtures/merkle, see its README) and against a naive reference."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.ledger import merkle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "merkle"
TREE = json.loads((FIXTURES / "rfc6962_tree.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in TREE["leaf_inputs"]]


def _b64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _probes(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((FIXTURES / kind).rglob("*.json"))
    assert len(files) > 80  # the vectors are there
    return [(str(f.relative_to(FIXTURES)), json.loads(f.read_text())) for f in files]


def test_hasher_vectors() -> None:
    h = TREE["hasher"]
    assert merkle.EMPTY_ROOT.hex() == h["empty_root"] == merkle.root([]).hex()
    for v in h["leaf"]:
        assert merkle.leaf_hash(bytes.fromhex(v["input_hex"])).hex() == v["hash"]
    for v in h["node"]:
        left, right = bytes.fromhex(v["left_hex"]), bytes.fromhex(v["right_hex"])
        assert merkle.node_hash(left, right).hex() == v["hash"]


@pytest.mark.parametrize("n", range(len(TREE["root_hashes"])))
def test_root_vectors(n: int) -> None:
    assert merkle.root(LEAVES[:n]).hex() == TREE["root_hashes"][n]


def test_node_hash_vectors() -> None:
    for level, hashes in enumerate(TREE["node_hashes"]):
        width = 1 << level
        for i, want in enumerate(hashes):
            assert merkle.root(LEAVES[i * width : (i + 1) * width]).hex() == want


@pytest.mark.parametrize(
    "v", TREE["inclusion"], ids=lambda v: f"{v['leaf_index']}@{v['tree_size']}"
)
def test_inclusion_proof_generation(v: dict[str, Any]) -> None:
    proof = merkle.inclusion_proof(v["leaf_index"], LEAVES[: v["tree_size"]])
    assert [p.hex() for p in proof] == v["proof"]


@pytest.mark.parametrize("v", TREE["consistency"], ids=lambda v: f"{v['size1']}-{v['size2']}")
def test_consistency_proof_generation(v: dict[str, Any]) -> None:
    proof = merkle.consistency_proof(v["size1"], LEAVES[: v["size2"]])
    assert [p.hex() for p in proof] == v["proof"]


@pytest.mark.parametrize(
    ("name", "p"), _probes("inclusion"), ids=lambda x: x if isinstance(x, str) else ""
)
def test_inclusion_probes(name: str, p: dict[str, Any]) -> None:
    args = (
        p["leafIdx"],
        p["treeSize"],
        _b64(p["leafHash"]),
        [_b64(x) for x in p["proof"] or []],
        _b64(p["root"]),
    )
    if p["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize(
    ("name", "p"), _probes("consistency"), ids=lambda x: x if isinstance(x, str) else ""
)
def test_consistency_probes(name: str, p: dict[str, Any]) -> None:
    args = (
        p["size1"],
        p["size2"],
        [_b64(x) for x in p["proof"] or []],
        _b64(p["root1"]),
        _b64(p["root2"]),
    )
    if p["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def _naive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out recursively, independent of TreeBuilder."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70), st.data())
def test_proofs_roundtrip_and_detect_tampering(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(d) for d in data]
    root = merkle.root(leaves)
    assert root == _naive_root(leaves)
    if not leaves:
        return
    n = len(leaves)
    i = draw.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(i, leaves)
    merkle.verify_inclusion(i, n, leaves[i], proof, root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(i, n, merkle.leaf_hash(b"other" + data[i]), proof, root)
    if proof:
        j = draw.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(i, n, leaves[i], bad, root)
    m = draw.draw(st.integers(1, n))
    cproof = merkle.consistency_proof(m, leaves)
    old = merkle.root(leaves[:m])
    merkle.verify_consistency(m, n, cproof, old, root)
    if m < n:
        with pytest.raises(merkle.ProofError):
            wrong_old = bytes([old[0] ^ 1]) + old[1:]
            merkle.verify_consistency(m, n, cproof, wrong_old, root)


def test_consistency_rejects_any_other_old_root() -> None:
    # Regression (CI, 2026-11-28): a "wrong" old root must differ from the real one
    # even when the first leaf's data happens to be the bytes used to make it.
    leaves = [merkle.leaf_hash(b"x"), merkle.leaf_hash(b"")]
    root = merkle.root(leaves)
    old = merkle.root(leaves[:1])
    cproof = merkle.consistency_proof(1, leaves)
    merkle.verify_consistency(1, 2, cproof, old, root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(1, 2, cproof, bytes([old[0] ^ 1]) + old[1:], root)


def test_tree_builder_matches_every_prefix() -> None:
    tree = merkle.TreeBuilder()
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    for i, leaf in enumerate(leaves):
        assert tree.root() == _naive_root(leaves[:i])
        tree.append(leaf)
    assert tree.size == 40
    with pytest.raises(ValueError):
        tree.append(b"short")
