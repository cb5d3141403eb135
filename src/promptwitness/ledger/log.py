"""The provenance log of a capture store: checkpoints, proofs and verification.

The log's tables belong to the store (``store.db``): ``Store.add_many`` appends each
exchange's leaf in the transaction that inserts the exchange, and ``Ledger`` reads and
writes the log only through the store's "log" methods (``log_leaves``,
``log_checkpoints``, ``log_records``, ``log_transaction``), whichever the backend
(SQLite, PostgreSQL). What is here is the logic: it never issues SQL.

- ``Ledger(store)`` makes signed checkpoints, inclusion and consistency proofs, and
  ``verify()`` recomputes everything from the records and the blobs.
- Trust comes only from signatures and from checkpoints kept outside the store, never
  from a value in the store: whoever can write the database can delete leaves and
  checkpoints and edit ``meta`` together. So ``verify`` with keys calls *unsigned*
  whatever no checkpoint signed by them covers (exchanges without a leaf included), and
  ``checkpoint`` signs only a log that extends every checkpoint it can check. Exchanges
  captured before the store had a ledger are adopted only on request
  (``checkpoint(adopt=True)``), and the checkpoint records the adoption (``Adoption``,
  an extension line repeated by every later checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptwitness.errors import Damaged, NotFound, StoreError, UsageError
from promptwitness.ledger import merkle
from promptwitness.ledger.record import exchange_leaf_hash

if TYPE_CHECKING:
    from promptwitness.ledger.note import Checkpoint, Signer, Verifier
    from promptwitness.store.db import Store, StoredExchange

__all__ = [
    "ADOPTED",
    "Adoption",
    "CheckpointResult",
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "VerifyReport",
    "adoption_digest",
    "parse_adoptions",
]


@dataclass(frozen=True)
class InclusionProof:
    exchange: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes
    checkpoint: str | None  # the signed note whose root this proof reaches, if any

    def to_json(self) -> dict[str, Any]:
        import base64

        b64 = base64.b64encode
        return {
            "exchange": self.exchange,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash).decode(),
            "proof": [b64(p).decode() for p in self.proof],
            "root": b64(self.root).decode(),
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class ConsistencyProof:
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        import base64

        b64 = base64.b64encode
        return {
            "size1": self.size1,
            "size2": self.size2,
            "root1": b64(self.root1).decode(),
            "root2": b64(self.root2).decode(),
            "proof": [b64(p).decode() for p in self.proof],
        }


ADOPTED = "adopted"
"""The keyword of a checkpoint extension line that records an adoption."""


def adoption_digest(items: Sequence[tuple[int, bytes]]) -> bytes:
    """SHA-256 of the adoption list: one line ``<exchange id> <base64 leaf hash>`` per
    adopted exchange, in leaf order, each ending in a newline."""
    text = "".join(f"{ex} {base64.b64encode(h).decode('ascii')}\n" for ex, h in items)
    return hashlib.sha256(text.encode("ascii")).digest()


@dataclass(frozen=True, order=True)
class Adoption:
    """Leaves ``first .. first + count - 1`` were appended for exchanges captured before
    the store had a ledger (not when they were captured): a signed checkpoint says so with
    the extension line ``adopted FIRST COUNT BASE64(adoption_digest)``."""

    first: int
    count: int
    digest: bytes

    def line(self) -> str:
        return f"{ADOPTED} {self.first} {self.count} {base64.b64encode(self.digest).decode()}"


def parse_adoptions(extensions: Iterable[str]) -> list[Adoption]:
    """The adoption lines among a checkpoint's extension lines (others are ignored)."""
    from promptwitness.ledger.note import NoteError

    found: list[Adoption] = []
    for ext in extensions:
        if ext.split(" ", 1)[0] != ADOPTED:
            continue
        parts = ext.split(" ")
        try:
            first, count = int(parts[1]), int(parts[2])
            digest = base64.b64decode(parts[3], validate=True) if len(parts) == 4 else b""
        except (IndexError, ValueError, binascii.Error):
            digest = b""
            first = count = -1
        if len(digest) != 32 or first < 0 or count < 1:
            raise NoteError(f"malformed adoption line {ext[:60]!r} (adopted FIRST COUNT DIGEST)")
        found.append(Adoption(first, count, digest))
    return found


def _ids(ids: Sequence[int], most: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:most])
    return f"ids {shown}{f', … ({len(ids) - most} more)' if len(ids) > most else ''}"


@dataclass
class VerifyReport:
    """What ``Ledger.verify`` found. Verdict: ``tampered`` (``problems``: something
    was changed behind the log's back), else ``unsigned`` (``unsigned``: part of the
    store is not covered by a checkpoint, signed by a given key when keys were given, so
    a rewrite of that part could not be told), else ``intact``."""

    size: int = 0
    exchanges: int = 0
    blobs: int = 0
    checkpoints: int = 0
    signatures_checked: bool = False
    signed_size: int = 0  # leaves covered by the largest checkpoint that matches the log
    root: bytes = merkle.EMPTY_ROOT  # of all the leaves read
    problems: list[str] = field(default_factory=list)
    unsigned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # may be adopted (pre-ledger captures)
    adoptions: list[Adoption] = field(default_factory=list)  # recorded by matching checkpoints

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        return "tampered" if self.problems else "unsigned" if self.unsigned else "intact"


@dataclass
class CheckpointResult:
    """``note`` is None when the checkpoint was refused (``problems``)."""

    note: str | None
    size: int = 0
    adopted: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # not adopted (no ``adopt=True``)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Ledger:
    """The log of one open ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # reading

    def _meta(self, key: str) -> Any:
        return self.store.meta().get(key)

    def origin(self) -> str:
        """The checkpoint origin of this store's log: ``promptwitness/store/<store id>``."""
        store_id = self._meta("store_id")
        if not store_id:
            raise StoreError(f"the store {self.store.where} has no store id (damaged?)")
        return f"promptwitness/store/{store_id}"

    def adopt_upto(self) -> int:
        v = self._meta("ledger_adopt_upto")
        return int(v) if v is not None else 0

    def leaves(self) -> list[tuple[int, int, bytes]]:
        """``(index, exchange id, leaf hash)`` in index order."""
        return [(leaf.index, leaf.exchange, leaf.hash) for leaf in self.store.log_leaves()]

    def size(self) -> int:
        return self.store.log_size()

    def checkpoints(self) -> list[tuple[int, str]]:
        """``(row id, signed note)`` of every kept checkpoint, oldest first."""
        return self.store.log_checkpoints()

    def _hashes(self) -> list[bytes]:
        return [h for _, _, h in self.leaves()]

    # writing

    def checkpoint(
        self,
        signers: Sequence[Signer],
        *,
        adopt: bool = False,
        extra_checkpoints: Iterable[str | tuple[str, str]] = (),
    ) -> CheckpointResult:
        """Sign and keep a checkpoint of the whole log, unless the log is not intact.

        First the log is checked as ``verify`` does (without re-hashing the blobs), with
        the signers' own public keys and ``extra_checkpoints`` (copies kept outside the
        store): a log that does not extend what was signed before, or whose leaves no
        longer match their records, is refused (``problems``), never signed.

        Exchanges without a leaf that may have been captured before the store had a
        ledger (``VerifyReport.pending``) are adopted only with ``adopt=True``: their
        leaves are appended from the records as they are now, and the checkpoint records
        the adoption (``Adoption``), as does every later checkpoint, so that the
        adoption is a signed, logged event. A ``meta`` value never adopts anything.
        """
        from promptwitness.ledger.note import Checkpoint, NoteError, sign_note

        if not signers:
            raise UsageError("a checkpoint needs a signing key (--key)")
        origin = self.origin()
        pre = self.verify(
            [s.verifier for s in signers],
            extra_checkpoints,
            check_blobs=False,
            only_known_keys=True,
        )
        res = CheckpointResult(
            None,
            pre.size,
            problems=list(pre.problems),
            notes=[n for n in pre.notes if "not signed by" in n],
        )
        if pre.problems:
            return res
        with self.store.log_transaction("make a checkpoint") as tx:
            leaves = [(leaf.index, leaf.exchange, leaf.hash) for leaf in tx.leaves()]
            hashes = [h for _, _, h in leaves]
            if len(hashes) < pre.size or merkle.root(hashes[: pre.size]) != pre.root:
                res.problems.append("the log changed while it was being checked; run again")
                return res
            for pos, (idx, ex_id, h) in enumerate(leaves[pre.size :], pre.size):
                # logged meanwhile (by a capture): check them too
                if idx != pos or exchange_leaf_hash(tx.exchange(ex_id)) != h:
                    res.problems.append(f"leaf {idx} (exchange {ex_id}) does not match its record")
                    return res
            adoptions = list(pre.adoptions)
            if adopt and pre.pending:
                first = len(hashes)
                items: list[tuple[int, bytes]] = []
                for ex_id in pre.pending:
                    if tx.has_leaf(ex_id):
                        continue
                    leaf = tx.append(ex_id)  # at first + len(items): nothing else appends
                    items.append((ex_id, leaf.hash))
                if items:
                    adoptions.append(Adoption(first, len(items), adoption_digest(items)))
                    hashes += [h for _, h in items]
                    res.adopted = [e for e, _ in items]
            elif pre.pending:
                res.pending = list(pre.pending)
            exts = tuple(a.line() for a in sorted(set(adoptions)))
            cp = Checkpoint(origin, len(hashes), merkle.root(hashes), exts)
            try:
                note = sign_note(cp.text(), signers)
            except NoteError as exc:
                raise UsageError(str(exc)) from exc
            tx.add_checkpoint(origin, cp.size, cp.root, note)
        res.note, res.size = note, cp.size
        return res

    # proofs

    def _latest_covering(self, size: int) -> tuple[Checkpoint, str] | None:
        from promptwitness.ledger.note import NoteError, parse_checkpoint, parse_note

        best: tuple[Checkpoint, str] | None = None
        for _, note in self.checkpoints():
            try:
                cp = parse_checkpoint(parse_note(note).text)
            except NoteError:
                continue
            if cp.size >= size and (best is None or cp.size > best[0].size):
                best = (cp, note)
        return best

    def prove(self, exchange_id: int, tree_size: int | None = None) -> InclusionProof:
        """Inclusion proof of an exchange's leaf, against the newest checkpoint by default
        (the current tree when no checkpoint covers the leaf yet)."""
        leaves = self.leaves()
        index = next((i for i, e, _ in leaves if e == exchange_id), None)
        if index is None:
            raise NotFound(
                f"exchange {exchange_id} is not in the log of {self.store.label} (captured "
                "before the ledger existed? run: promptwitness ledger checkpoint)"
            )
        hashes = [h for _, _, h in leaves]
        note: str | None = None
        if tree_size is None:
            found = self._latest_covering(index + 1)
            if found is not None and found[0].size <= len(hashes):
                tree_size, note = found[0].size, found[1]
            else:
                tree_size = len(hashes)
        if not index < tree_size <= len(hashes):
            raise UsageError(f"tree size {tree_size} does not hold leaf {index} of {len(hashes)}")
        prefix = hashes[:tree_size]
        return InclusionProof(
            exchange_id,
            index,
            tree_size,
            hashes[index],
            tuple(merkle.inclusion_proof(index, prefix)),
            merkle.root(prefix),
            note,
        )

    def consistency(self, size1: int, size2: int) -> ConsistencyProof:
        hashes = self._hashes()
        if not 0 < size1 <= size2 <= len(hashes):
            raise UsageError(
                f"need 0 < OLD <= NEW <= {len(hashes)} (the log's size); got {size1} and {size2}"
            )
        return ConsistencyProof(
            size1,
            size2,
            merkle.root(hashes[:size1]),
            merkle.root(hashes[:size2]),
            tuple(merkle.consistency_proof(size1, hashes[:size2])),
        )

    # verification

    def _records(self, rep: VerifyReport) -> tuple[dict[int, StoredExchange], set[int]]:
        """Every exchange record; one that cannot even be decoded is a problem."""
        records: dict[int, StoredExchange] = {}
        damaged: set[int] = set()
        for ex_id, x in self.store.log_records():
            if isinstance(x, str):
                damaged.add(ex_id)
                rep.problems.append(
                    f"exchange {ex_id}: its record cannot be read ({x}): it was changed after "
                    "it was logged"
                )
                continue
            records[x.id] = x
        return records, damaged

    def verify(
        self,
        trusted: Sequence[Verifier] = (),
        extra_checkpoints: Iterable[str | tuple[str, str]] = (),
        *,
        check_blobs: bool = True,
        only_known_keys: bool = False,
    ) -> VerifyReport:
        """Recompute the log from the stored records and blobs; compare it with every
        kept checkpoint and ``extra_checkpoints`` (copies kept outside the store: a note,
        or ``(label, note)``).

        With ``trusted`` keys a checkpoint counts only when one of them signed it (a kept
        one that none signed is a problem, unless ``only_known_keys``: then it is
        skipped), and what no such checkpoint covers is ``unsigned``.
        """
        from promptwitness.ledger.note import NoteError, open_note, parse_checkpoint, parse_note

        rep = VerifyReport(signatures_checked=bool(trusted))
        origin = self.origin()
        upto = self.adopt_upto()  # only ever narrows what may be adopted
        leaves = self.leaves()
        exchanges, damaged = self._records(rep)
        rep.size, rep.exchanges = len(leaves), len(exchanges) + len(damaged)
        hashes = [h for _, _, h in leaves]
        rep.root = merkle.root(hashes)

        # 1. checkpoints: signed (with keys), for this log, and each the root of a prefix
        notes: list[tuple[str, str, bool]] = [
            (f"checkpoint #{i} (kept in the store)", n, False) for i, n in self.checkpoints()
        ]
        for k, item in enumerate(extra_checkpoints):
            label, note = item if isinstance(item, tuple) else (f"given checkpoint {k + 1}", item)
            notes.append((label, note, True))
        known = {(v.name, v.key_id) for v in trusted}
        parsed: list[tuple[str, Checkpoint, bool, list[Adoption]]] = []
        for label, note, external in notes:
            try:
                if trusted:
                    if only_known_keys and not any(
                        (sig.name, sig.key_id) in known for sig in parse_note(note).signatures
                    ):
                        rep.notes.append(f"{label} is not signed by the given key(s): skipped")
                        continue
                    text = open_note(note, trusted)[0].text
                else:
                    text = parse_note(note).text
                cp = parse_checkpoint(text)
                adoptions = parse_adoptions(cp.extensions)
            except NoteError as exc:
                rep.problems.append(f"{label}: {exc}")
                continue
            if cp.origin != origin:
                rep.problems.append(
                    f"{label} is for the log {cp.origin!r}, not this store's {origin!r}"
                )
                continue
            parsed.append((label, cp, external, adoptions))
        rep.checkpoints = len(notes)
        tree = merkle.TreeBuilder()
        matched: list[tuple[str, Checkpoint, bool, list[Adoption]]] = []
        for label, cp, external, adoptions in sorted(parsed, key=lambda p: p[1].size):
            if cp.size > len(hashes):
                rep.problems.append(
                    f"{label} covers {cp.size} leaves but the log has only {len(hashes)}: "
                    "the log was truncated (it shrank: leaves were removed, or it was rewritten)"
                )
                continue
            while tree.size < cp.size:
                tree.append(hashes[tree.size])
            if tree.root() != cp.root:
                rep.problems.append(
                    f"{label} (size {cp.size}) does not match the log: its first {cp.size} "
                    "leaves were changed, removed, reordered or forked since it was signed"
                )
                continue
            matched.append((label, cp, external, adoptions))
        rep.signed_size = max((cp.size for _, cp, _, _ in matched), default=0)
        newest_given = max(
            (m for m in matched if m[2] and m[1].size), default=None, key=lambda m: m[1].size
        )
        if newest_given is not None:
            label, cp = newest_given[0], newest_given[1]
            try:
                merkle.verify_consistency(
                    cp.size,
                    len(hashes),
                    merkle.consistency_proof(cp.size, hashes),
                    cp.root,
                    rep.root,
                )
            except merkle.ProofError as exc:  # pragma: no cover - the prefix root matched
                rep.problems.append(f"{label}: {exc}")
            else:
                rep.notes.append(
                    f"the log ({len(hashes)} leaves) extends {label} ({cp.size} leaves): "
                    "RFC 9162 consistency proof verified"
                )

        # 2. adoptions recorded by matching checkpoints
        adopted: dict[int, int] = {}  # leaf index -> the first leaf of its adoption
        for label, cp, _, adoptions in matched:
            for a in adoptions:
                if a in rep.adoptions:
                    continue
                end = a.first + a.count
                span = [(e, h) for _, e, h in leaves[a.first : end]]
                if end > cp.size or adoption_digest(span) != a.digest:
                    rep.problems.append(
                        f"{label} records the adoption of leaves {a.first}..{end - 1}, which "
                        "the log does not hold"
                    )
                    continue
                rep.adoptions.append(a)
                adopted.update((i, a.first) for i in range(a.first, end))
        rep.adoptions.sort()

        # 3. leaves: dense, each backed by an unchanged record, in capture order
        seen: set[int] = set()
        last_capture = 0
        first_capture: int | None = None
        last_adopted: dict[int, int] = {}
        adopted_ids: list[tuple[int, int]] = []
        legacy = 0
        for pos, (idx, ex_id, h) in enumerate(leaves):
            if idx != pos:
                rep.problems.append(
                    f"leaf {pos} is missing (the next leaf is numbered {idx}): leaves were "
                    "removed from the log"
                )
                break
            seen.add(ex_id)
            x = exchanges.get(ex_id)
            if ex_id in damaged:
                continue
            if x is None:
                rep.problems.append(
                    f"leaf {idx}: exchange {ex_id} has no record: it was removed from the store"
                )
                continue
            if exchange_leaf_hash(x) != h:
                rep.problems.append(
                    f"leaf {idx}: the record of exchange {ex_id} was changed after it was "
                    "logged (its leaf hash no longer matches)"
                )
            if idx in adopted:
                if ex_id <= last_adopted.get(adopted[idx], -(1 << 63)):
                    rep.problems.append(f"leaf {idx}: adopted exchanges are out of order")
                last_adopted[adopted[idx]] = ex_id
                adopted_ids.append((idx, ex_id))
            elif ex_id > last_capture:
                last_capture = ex_id
                if first_capture is None:
                    first_capture = ex_id
            elif idx < rep.signed_size and ex_id <= upto:
                legacy += 1  # adopted by a promptwitness that did not record adoptions
            else:
                rep.problems.append(
                    f"leaf {idx}: exchange {ex_id} comes after exchange {last_capture} and no "
                    "signed checkpoint says it was adopted: leaves were reordered (or the "
                    "checkpoint that recorded its adoption was removed)"
                )
        for idx, ex_id in adopted_ids:
            if first_capture is not None and ex_id > first_capture:
                rep.problems.append(
                    f"leaf {idx}: exchange {ex_id} was adopted as captured before the store "
                    f"had a ledger, but exchange {first_capture} was logged when captured"
                )
        if legacy:
            rep.notes.append(
                f"{legacy} leaf(s) were adopted by an older promptwitness (the signed "
                "checkpoints cover them, without recording the adoption)"
            )

        # 4. records the log does not know
        for i in sorted(set(exchanges) - seen - damaged):
            if i > upto or (first_capture is not None and i > first_capture):
                rep.problems.append(
                    f"exchange {i} is not in the log: it was added behind the log's back"
                )
            else:
                rep.pending.append(i)
        if rep.pending:
            rep.unsigned.append(
                f"{len(rep.pending)} exchange(s) have no leaf in the log "
                f"({_ids(rep.pending)}): captured before the store had a ledger, or put "
                "there behind the log's back; nothing signed vouches for them. Review them "
                "(promptwitness show ID), then adopt them: promptwitness ledger checkpoint "
                "--adopt --key ..."
            )

        # 5. blobs: every body a record names must exist and hash to its address
        wanted: dict[str, tuple[int, str, int]] = {}
        for x in exchanges.values() if check_blobs else ():
            wanted.setdefault(x.request_sha256, (x.id, "request", x.request_size))
            wanted.setdefault(x.response_sha256, (x.id, "response", x.response_size))
        for sha, (ex_id, which, size) in sorted(wanted.items(), key=lambda kv: kv[1]):
            try:
                stored = self.store.blob_check(sha)
            except Damaged:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) was changed: its bytes no "
                    "longer hash to its SHA-256"
                )
                continue
            if stored is None:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) is missing from the store"
                )
                continue
            if stored != size:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) has {stored} bytes, "
                    f"the record says {size}"
                )
            rep.blobs += 1

        # 6. what no (signed) checkpoint covers
        by = "checkpoint signed by a given key" if trusted else "checkpoint"
        if hashes and not matched:
            rep.unsigned.append(
                f"nothing signed covers the log's {len(hashes)} leaves (no {by} matches "
                "it): a rewrite of the store could not be told. Sign one (promptwitness "
                "ledger checkpoint --key ...) and keep a copy outside the store (--witness DIR)"
            )
        elif rep.signed_size < len(hashes):
            rep.unsigned.append(
                f"{len(hashes) - rep.signed_size} leaf(s) after leaf {rep.signed_size - 1} are "
                f"not covered by a {by} yet (promptwitness ledger checkpoint --key ...)"
            )
        if not trusted and notes:
            rep.notes.append(
                "checkpoint signatures were not checked: give the public key with --pub"
            )
        return rep
