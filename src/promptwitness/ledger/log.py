"""The provenance log kept in the capture store (IO edge).

Tables (``store.schema`` version 2): ``ledger_leaves(idx, exchange, hash)`` and
``ledger_checkpoints(id, origin, size, root, note, created)``.

- ``append_exchange(conn, id)`` is called by ``Store.add_many`` inside the transaction
  that inserts the exchange: the leaf is computed from the row *as read back* and
  appended at the next index, so an exchange and its leaf are committed together.
- ``Ledger(store)`` makes signed checkpoints, inclusion and consistency proofs, and
  ``verify()`` recomputes everything from the records and the blobs.

This module never imports ``store.db`` at module level (``store.db`` imports it).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptwitness.errors import NotFound, StoreError, UsageError
from promptwitness.ledger import merkle
from promptwitness.ledger.record import exchange_leaf_hash, leaf_data_spliced, record_json

if TYPE_CHECKING:
    from promptwitness.ledger.note import Checkpoint, Signer, Verifier
    from promptwitness.store.db import Store, StoredExchange

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "VerifyReport",
    "append_exchange",
]


def _read_exchange(conn: sqlite3.Connection, exchange_id: int) -> StoredExchange:
    from promptwitness.store.db import Store

    row = conn.execute(
        f"SELECT {Store._COLUMNS} FROM exchanges WHERE id = ?", (int(exchange_id),)
    ).fetchone()
    if row is None:
        raise NotFound(f"no exchange {exchange_id}")
    return Store._exchange(row)


def next_index(conn: sqlite3.Connection) -> int:
    """The index the next leaf gets (the log's size)."""
    row = conn.execute("SELECT max(idx) FROM ledger_leaves").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def _insert(conn: sqlite3.Connection, idx: int, exchange_id: int, leaf: bytes) -> int:
    conn.execute(
        "INSERT INTO ledger_leaves(idx, exchange, hash) VALUES (?, ?, ?)",
        (idx, int(exchange_id), leaf),
    )
    return idx


# The two header columns in a row of ``Store._COLUMNS`` without the id.
_REQUEST_HEADERS, _RESPONSE_HEADERS = 9, 13


def append_exchange(conn: sqlite3.Connection, exchange_id: int,
                    row: Sequence[Any] | None = None, *, index: int | None = None) -> int:
    """Append the leaf of exchange ``exchange_id`` (inside the caller's transaction), at
    ``index`` (the log's size, ``next_index``; read from the table when None).

    ``row``: the values just inserted, in ``Store._COLUMNS`` order without the id. They
    are decoded exactly as a read-back row would be (every column's affinity keeps the
    Python type ``Store`` writes: REAL floats, INTEGER ints, TEXT str or BLOB bytes), so
    the leaf is the one ``verify`` recomputes from the stored row, without the extra
    SELECT; ``verify`` would report any divergence. The two header columns are the
    leaf's own encoding of the headers (``record.headers_json``, which ``Store`` writes
    them with), so they are spliced into the leaf as they are, not decoded and encoded
    again. None: read the row back."""
    idx = next_index(conn) if index is None else index
    if row is None:
        return _insert(conn, idx, exchange_id, exchange_leaf_hash(_read_exchange(conn,
                                                                                 exchange_id)))
    from promptwitness.store.db import Store

    req_headers, resp_headers = row[_REQUEST_HEADERS], row[_RESPONSE_HEADERS]
    bare = list(row)
    bare[_REQUEST_HEADERS] = bare[_RESPONSE_HEADERS] = "[]"
    rec = record_json(Store._exchange((int(exchange_id), *bare)))
    del rec["request_headers"], rec["response_headers"]
    leaf = merkle.leaf_hash(leaf_data_spliced(rec, req_headers, resp_headers))
    return _insert(conn, idx, exchange_id, leaf)


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


@dataclass
class VerifyReport:
    size: int = 0
    exchanges: int = 0
    blobs: int = 0
    checkpoints: int = 0
    signatures_checked: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Ledger:
    """The log of one open ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # reading

    def _meta(self, key: str) -> Any:
        with self.store._use("read the ledger") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def origin(self) -> str:
        """The checkpoint origin of this store's log: ``promptwitness/store/<store id>``."""
        store_id = self._meta("store_id")
        if not store_id:
            raise StoreError(f"the store {self.store.path} has no store id (damaged?)")
        return f"promptwitness/store/{store_id}"

    def adopt_upto(self) -> int:
        v = self._meta("ledger_adopt_upto")
        return int(v) if v is not None else 0

    def leaves(self) -> list[tuple[int, int, bytes]]:
        """``(index, exchange id, leaf hash)`` in index order."""
        with self.store._use("read the ledger") as conn:
            rows = conn.execute("SELECT idx, exchange, hash FROM ledger_leaves ORDER BY idx")
            return [(int(i), int(e), bytes(h)) for i, e, h in rows.fetchall()]

    def size(self) -> int:
        with self.store._use("read the ledger") as conn:
            row = conn.execute("SELECT max(idx) FROM ledger_leaves").fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def checkpoints(self) -> list[tuple[int, str]]:
        """``(row id, signed note)`` of every kept checkpoint, oldest first."""
        with self.store._use("read the ledger") as conn:
            rows = conn.execute("SELECT id, note FROM ledger_checkpoints ORDER BY id").fetchall()
        return [(int(i), str(n)) for i, n in rows]

    def _hashes(self) -> list[bytes]:
        return [h for _, _, h in self.leaves()]

    # writing

    def _adopt(self, conn: sqlite3.Connection) -> int:
        """Append leaves for exchanges stored before the ledger existed (id order)."""
        upto = conn.execute("SELECT value FROM meta WHERE key = 'ledger_adopt_upto'").fetchone()
        limit = int(upto[0]) if upto is not None else 0
        ids = [
            int(r[0])
            for r in conn.execute(
                "SELECT id FROM exchanges WHERE id <= ? AND id NOT IN "
                "(SELECT exchange FROM ledger_leaves) ORDER BY id",
                (limit,),
            ).fetchall()
        ]
        for i in ids:
            append_exchange(conn, i)
        return len(ids)

    def checkpoint(self, signers: Sequence[Signer]) -> tuple[str, int]:
        """Sign and keep a checkpoint of the whole log; returns ``(note, adopted)``.

        Exchanges captured before the store had a ledger are adopted first.
        """
        from promptwitness.ledger.note import Checkpoint, NoteError, sign_note

        if not signers:
            raise UsageError("a checkpoint needs a signing key (--key)")
        origin = self.origin()
        with self.store._write("make a checkpoint") as conn:
            adopted = self._adopt(conn)
            hashes = [
                bytes(r[0])
                for r in conn.execute("SELECT hash FROM ledger_leaves ORDER BY idx").fetchall()
            ]
            cp = Checkpoint(origin, len(hashes), merkle.root(hashes))
            try:
                note = sign_note(cp.text(), signers)
            except NoteError as exc:
                raise UsageError(str(exc)) from exc
            conn.execute(
                "INSERT INTO ledger_checkpoints(origin, size, root, note, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (origin, cp.size, cp.root, note, time.time()),
            )
        return note, adopted

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
                f"exchange {exchange_id} is not in the log of {self.store.root} (captured "
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
        from promptwitness.store.db import Store

        with self.store._use("read the exchanges") as conn:
            rows = conn.execute(f"SELECT {Store._COLUMNS} FROM exchanges ORDER BY id").fetchall()
        records: dict[int, StoredExchange] = {}
        damaged: set[int] = set()
        for row in rows:
            try:
                x = Store._exchange(row)
            except (ValueError, TypeError, KeyError) as exc:
                damaged.add(int(row[0]))
                rep.problems.append(
                    f"exchange {row[0]}: its record cannot be read ({type(exc).__name__}): it "
                    "was changed after it was logged"
                )
                continue
            records[x.id] = x
        return records, damaged

    def verify(
        self, trusted: Sequence[Verifier] = (), extra_checkpoints: Iterable[str] = ()
    ) -> VerifyReport:
        """Recompute the log from the stored records and blobs; compare with every kept
        checkpoint (and ``extra_checkpoints``, e.g. copies kept elsewhere)."""
        from promptwitness.ledger.note import NoteError, open_note, parse_checkpoint, parse_note
        from promptwitness.store import blobs

        rep = VerifyReport(signatures_checked=bool(trusted))
        origin = self.origin()
        upto = self.adopt_upto()
        leaves = self.leaves()
        exchanges, damaged = self._records(rep)
        rep.size, rep.exchanges = len(leaves), len(exchanges) + len(damaged)
        kept = self.checkpoints()

        # 1. leaves: dense, each backed by an unchanged record, in capture order
        seen: set[int] = set()
        last_new = last_old = 0
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
            if ex_id > upto:
                if ex_id <= last_new:
                    rep.problems.append(
                        f"leaf {idx}: exchange {ex_id} comes after exchange {last_new}: "
                        "leaves were reordered"
                    )
                last_new = max(last_new, ex_id)
            else:
                if ex_id <= last_old:
                    rep.problems.append(
                        f"leaf {idx}: exchange {ex_id} comes after exchange {last_old}: "
                        "leaves were reordered"
                    )
                last_old = max(last_old, ex_id)

        # 2. records the log does not know
        unlogged = sorted(set(exchanges) - seen - damaged)
        pending = [i for i in unlogged if i <= upto]
        for i in unlogged:
            if i > upto or kept:
                rep.problems.append(
                    f"exchange {i} is not in the log: it was added behind the log's back"
                )
        if pending and not kept:
            rep.notes.append(
                f"{len(pending)} exchange(s) captured before the store had a ledger are not "
                "logged yet; `promptwitness ledger checkpoint` adopts them"
            )

        # 3. blobs: every body a record names must exist and hash to its address
        wanted: dict[str, tuple[int, str, int]] = {}
        for x in exchanges.values():
            wanted.setdefault(x.request_sha256, (x.id, "request", x.request_size))
            wanted.setdefault(x.response_sha256, (x.id, "response", x.response_size))
        for sha, (ex_id, which, size) in sorted(wanted.items(), key=lambda kv: kv[1]):
            with self.store._use("read a blob") as conn:
                row = conn.execute(
                    "SELECT size, data, compression FROM blobs WHERE sha256 = ?", (sha,)
                ).fetchone()
            if row is None:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) is missing from the store"
                )
                continue
            try:
                raw = blobs.decode(sha, int(row[0]), bytes(row[1]), str(row[2]), str(self.store))
            except StoreError:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) was changed: its bytes no "
                    "longer hash to its SHA-256"
                )
                continue
            if len(raw) != size:
                rep.problems.append(
                    f"blob {sha} ({which} body of exchange {ex_id}) has {len(raw)} bytes, "
                    f"the record says {size}"
                )
            rep.blobs += 1

        # 4. checkpoints: each must match the tree recomputed from the stored leaves
        notes = [(f"checkpoint #{i}", n) for i, n in kept]
        notes += [(f"given checkpoint {k + 1}", n) for k, n in enumerate(extra_checkpoints)]
        rep.checkpoints = len(notes)
        parsed: list[tuple[str, Checkpoint]] = []
        for label, note in notes:
            try:
                if trusted:
                    opened, _ = open_note(note, trusted)
                    text = opened.text
                else:
                    text = parse_note(note).text
                cp = parse_checkpoint(text)
            except NoteError as exc:
                rep.problems.append(f"{label}: {exc}")
                continue
            if cp.origin != origin:
                rep.problems.append(
                    f"{label} is for the log {cp.origin!r}, not this store's {origin!r}"
                )
                continue
            parsed.append((label, cp))
        tree = merkle.TreeBuilder()
        hashes = [h for _, _, h in leaves]
        for label, cp in sorted(parsed, key=lambda lc: lc[1].size):
            if cp.size > len(hashes):
                rep.problems.append(
                    f"{label} covers {cp.size} leaves but the log has only {len(hashes)}: "
                    "the log was truncated"
                )
                continue
            while tree.size < cp.size:
                tree.append(hashes[tree.size])
            if tree.root() != cp.root:
                rep.problems.append(
                    f"{label} (size {cp.size}) does not match the log: its first {cp.size} "
                    "leaves were changed, removed, reordered or forked since it was signed"
                )
        if parsed:
            top = max(cp.size for _, cp in parsed)
            if top < len(hashes):
                rep.notes.append(
                    f"{len(hashes) - top} leaf(s) after the newest checkpoint are not covered "
                    "by a signed checkpoint yet"
                )
        elif not notes and hashes:
            rep.notes.append("no checkpoint yet: run `promptwitness ledger checkpoint --key ...`")
        if not trusted and notes:
            rep.notes.append(
                "checkpoint signatures were not checked: give the public key with --pub"
            )
        return rep
