"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs (sans-IO).

Definitions (RFC 9162 §2.1.1), with SHA-256:

- the hash of an empty tree is ``SHA-256()``;
- a leaf hash is ``SHA-256(0x00 || leaf data)``;
- an interior node is ``SHA-256(0x01 || left || right)``; for ``n > 1`` leaves the left
  subtree holds the largest power of two ``k < n`` leaves.

Everything here works on *leaf hashes* (32-byte ``bytes``), so the leaf data never has to
be in memory at once. Generation follows §2.1.3.1 (``PATH``) and §2.1.4.1 (``PROOF``);
verification follows §2.1.3.2 and §2.1.4.2 literally. Verification failures raise
``ProofError`` with a message that says which check failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from promptwitness.errors import (  # re-exported
    ProofError as ProofError,
)

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ProofError",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeBuilder:
    """Append-only tree head: the perfect subtrees of the leaves seen so far.

    ``root()`` after ``n`` appends is the RFC 9162 root of those ``n`` leaves; memory
    is ``O(log n)``.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (number of leaves, hash), left to right
        self.size = 0

    def append(self, leaf: bytes) -> None:
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
        count, h = 1, leaf
        while self._stack and self._stack[-1][0] == count:
            left = self._stack.pop()[1]
            h = node_hash(left, h)
            count *= 2
        self._stack.append((count, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def root(leaves: Iterable[bytes]) -> bytes:
    """``MTH(D[n])`` of the given leaf hashes."""
    tree = TreeBuilder()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def _path(m: int, leaves: Sequence[bytes], lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, leaves, lo, lo + k), _mth(leaves, lo + k, hi)]
    return [*_path(m - k, leaves, lo + k, hi), _mth(leaves, lo, lo + k)]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``PATH(index, D[n])``: the audit path of leaf ``index`` in the tree of ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is not in a tree of {n} leaves")
    return _path(index, leaves, 0, n)


def _subproof(m: int, leaves: Sequence[bytes], lo: int, hi: int, b: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if b else [_mth(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves, lo, lo + k, b), _mth(leaves, lo + k, hi)]
    return [*_subproof(m - k, leaves, lo + k, hi, False), _mth(leaves, lo, lo + k)]


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``PROOF(size1, D[n])``: proves the tree of the first ``size1`` leaves is a prefix."""
    n = len(leaves)
    if not 0 < size1 <= n:
        raise ValueError(f"no consistency proof from size {size1} to size {n}")
    if size1 == n:
        return []
    return _subproof(size1, leaves, 0, n, True)


def _check_hash(name: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"{name} has {len(h)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise ``ProofError`` unless ``proof`` shows ``leaf`` at ``index``
    in the tree of ``size`` leaves with root ``root_hash``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hash("the leaf hash", leaf)
    for i, p in enumerate(proof):
        _check_hash(f"proof element {i}", p)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if r != root_hash:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2: raise ``ProofError`` unless ``proof`` shows that the tree of
    ``size1`` leaves with root ``root1`` is a prefix of the tree of ``size2`` leaves with
    root ``root2``."""
    if size1 < 0 or size2 < size1:
        raise ProofError(f"no consistency from size {size1} to the smaller size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    for i, p in enumerate(proof):
        _check_hash(f"proof element {i}", p)
    if size1 == size2:
        if proof:
            raise ProofError("the sizes are equal, but the proof is not empty")
        if root1 != root2:
            raise ProofError("the sizes are equal, but the roots differ")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != root1:
        raise ProofError(f"the consistency proof does not lead to the root of size {size1}")
    if sr != root2:
        raise ProofError(f"the consistency proof does not lead to the root of size {size2}")
