"""``keys``, ``ledger``, ``attest`` and ``verify``: provenance (docs/provenance.md).

Exit codes: ``ledger verify`` and ``verify`` exit 0 when everything checks out and 1
with a precise message when anything does not; usage and store errors exit 2;
``ledger verify --pub`` exits 3 when nothing was found changed but part of the store is
not covered by a checkpoint signed by a given key ("unsigned"). ``ledger checkpoint``
exits 1 when it refuses to sign a log that is not intact. Key material is never printed.
Commands that only read never create a store ("no store at ..."); ``ledger verify``,
``prove`` and ``consistency`` write nothing at all (read-only media).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from promptwitness.cli.common import add_store_option, open_store
from promptwitness.errors import UsageError
from promptwitness.ledger import dsse, keys, statements
from promptwitness.ledger.log import Ledger, VerifyReport
from promptwitness.ledger.note import (
    NoteError,
    Signer,
    Verifier,
    normalize_note,
    parse_checkpoint,
    parse_note,
)
from promptwitness.store import Store, StoredExchange, default_store_location, postgres

EXIT_OK = 0
EXIT_BAD = 1
EXIT_UNSIGNED = 3
WITNESS_SUFFIX = ".checkpoint"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("keys", help="Ed25519 signing keys for checkpoints and statements")
    ksub = k.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    g = ksub.add_parser("generate", help="write PREFIX.key (mode 0600) and PREFIX.pub")
    g.add_argument("--out", required=True, type=Path, metavar="PREFIX")
    g.add_argument("--name", help="the key's name (default: promptwitness/HOSTNAME)")
    add_store_option(g)
    g.set_defaults(func=cmd_keys_generate)

    lg = sub.add_parser("ledger", help="the store's tamper-evident log (RFC 9162 Merkle tree)")
    lsub = lg.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)
    c = lsub.add_parser(
        "checkpoint",
        help="sign and keep a checkpoint of the log (print it; keep a copy outside the store)",
        description="Checks the log first and refuses to sign one that is not intact. "
        "Exit status: 0 signed, 1 refused (with what changed), 2 error.",
    )
    add_store_option(c)
    c.add_argument("--key", required=True, type=Path, action="append", metavar="PREFIX.key")
    c.add_argument(
        "--adopt",
        action="store_true",
        help="also log the exchanges captured before the store had a ledger, as they are "
        "now (review them first); the checkpoint records the adoption",
    )
    c.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="also write the note to FILE (replaced only by a checkpoint that extends it)",
    )
    c.add_argument(
        "--witness",
        type=Path,
        metavar="DIR",
        help="also keep the note in DIR, which keeps every checkpoint (never overwritten); "
        "the log must extend each",
    )
    c.set_defaults(func=cmd_checkpoint)
    v = lsub.add_parser(
        "verify",
        help="recompute the log from the records and blobs and check every checkpoint",
        description="Writes nothing (read-only media are fine). Exit status: 0 intact, "
        "1 changed (with what changed), 2 error, 3 unsigned (with --pub: nothing found "
        "changed, but part of the store is not covered by a checkpoint signed by a given key).",
    )
    add_store_option(v)
    v.add_argument(
        "--pub",
        type=Path,
        action="append",
        default=[],
        metavar="PREFIX.pub",
        help="check checkpoint signatures with this public key",
    )
    v.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE|DIR",
        help="also check a checkpoint kept outside the store (a signed note), or every "
        "checkpoint in a --witness directory: the log must extend each",
    )
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify_log)
    p = lsub.add_parser("prove", help="inclusion proof of one exchange (JSON)")
    add_store_option(p)
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--size", type=int, help="tree size (default: the newest checkpoint's)")
    p.set_defaults(func=cmd_prove)
    cs = lsub.add_parser("consistency", help="consistency proof between two tree sizes (JSON)")
    add_store_option(cs)
    cs.add_argument("old", type=int, metavar="OLD")
    cs.add_argument("new", type=int, metavar="NEW")
    cs.set_defaults(func=cmd_consistency)

    a = sub.add_parser("attest", help="signed in-toto statements (DSSE envelopes)")
    asub = a.add_subparsers(dest="attest_command", metavar="COMMAND", required=True)
    m = asub.add_parser("manifest", help="prompt manifest: this agent sends exactly this")
    add_store_option(m)
    m.add_argument("--exchange", required=True, type=int, metavar="ID")
    m.add_argument("--agent", default=None, help="agent name (default: from the user-agent)")
    m.add_argument("--agent-version", default=None)
    m.add_argument(
        "--per-run",
        action="append",
        default=[],
        metavar="GLOB",
        help="segment paths whose whole value is per-run (only its form is pinned)",
    )
    m.add_argument("--digests-only", action="store_true", help="leave the segment texts out")
    _sign_options(m)
    m.set_defaults(func=cmd_attest_manifest)
    pr = asub.add_parser("probe", help="probe result: a report's findings and its exchanges")
    add_store_option(pr)
    pr.add_argument("report", type=Path, metavar="REPORT.json")
    _sign_options(pr)
    pr.set_defaults(func=cmd_attest_probe)
    d = asub.add_parser("diff", help="prompt diff: the classified changes between two captures")
    add_store_option(d)
    d.add_argument("a", type=int, metavar="ID_A")
    d.add_argument("b", type=int, metavar="ID_B")
    d.add_argument("--label-a", help="what side A is (a cell id, a version, ...)")
    d.add_argument("--label-b", help="what side B is")
    _sign_options(d)
    d.set_defaults(func=cmd_attest_diff)

    vf = sub.add_parser(
        "verify",
        help="check a signed statement (and, with --against, a capture against a manifest)",
        description="Exit status: 0 good, 1 bad (with why), 2 error.",
    )
    add_store_option(vf)
    vf.add_argument("file", type=Path, metavar="FILE")
    vf.add_argument("--pub", required=True, type=Path, action="append", metavar="PREFIX.pub")
    vf.add_argument(
        "--against",
        type=int,
        metavar="ID",
        help="check that captured exchange ID matches the manifest",
    )
    vf.set_defaults(func=cmd_verify_statement)


def _sign_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key",
        required=True,
        type=Path,
        action="append",
        metavar="PREFIX.key",
        help="signing key (repeat for several signatures)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, metavar="FILE")


def _store_root(args: argparse.Namespace) -> Path | None:
    """The store's directory, which keys may not be kept in (None: a PostgreSQL store)."""
    location = args.store if args.store is not None else default_store_location()
    return None if postgres.is_url(location) else Path(location).expanduser()


def _signers(args: argparse.Namespace) -> list[Signer]:
    root = _store_root(args)
    return [keys.load_signer(p, root) for p in args.key]


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _err(text: str) -> None:
    print(text, file=sys.stderr)


# -- keys -------------------------------------------------------------------------------


def cmd_keys_generate(args: argparse.Namespace) -> int:
    signer = keys.generate(args.out, args.name, _store_root(args))
    prefix = str(args.out).removesuffix(".key").removesuffix(".pub")
    _out(f"{signer.verifier.vkey()}\n")
    _err(f"wrote {prefix}.key (mode 0600, keep it secret) and {prefix}.pub")
    return EXIT_OK


# -- ledger -----------------------------------------------------------------------------


def _outside_store(path: Path, root: Path | None, what: str) -> None:
    if root is None:  # a PostgreSQL store: no directory to keep out of
        return
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        return
    if inside:
        raise UsageError(
            f"{path} is inside the capture store {root}: {what} kept there protects nothing "
            "(whoever can rewrite the store can rewrite it too); choose a place outside it"
        )


def _read_note(path: Path) -> str:
    try:
        return normalize_note(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"cannot read the checkpoint {path}: {reason}") from exc


def _witness_notes(directory: Path) -> list[tuple[str, str]]:
    """Every ``*.checkpoint`` in a witness directory, as ``(label, note)``."""
    try:
        files = sorted(p for p in directory.iterdir() if p.name.endswith(WITNESS_SUFFIX))
    except OSError as exc:
        raise UsageError(f"cannot read the directory {directory}: {exc.strerror or exc}") from exc
    return [(f"the checkpoint {p}", _read_note(p)) for p in files if p.is_file()]


def _witness_write(directory: Path, note: str, size: int) -> Path:
    """Keep ``note`` in ``directory`` as ``SIZE-HASH.checkpoint`` (created, never replaced;
    names sort by tree size; the same note twice is kept once)."""
    digest = hashlib.sha256(note.encode("utf-8")).hexdigest()[:16]
    path = directory / f"{size:012d}-{digest}{WITNESS_SUFFIX}"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if _read_note(path) != note:
            raise UsageError(f"{path} exists and holds another note; not replaced") from None
        return path
    except OSError as exc:
        raise UsageError(f"cannot write into {directory}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(note)
        f.flush()
        os.fsync(f.fileno())
    return path


def _replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cmd_checkpoint(args: argparse.Namespace) -> int:
    signers = _signers(args)
    root = _store_root(args)
    extra: list[tuple[str, str]] = []
    if args.out is not None:
        _outside_store(args.out, root, "a checkpoint")
        if args.out.is_dir():
            raise UsageError(f"--out {args.out} is a directory (use --witness DIR for that)")
        if args.out.exists():
            kept = _read_note(args.out)
            try:
                parse_checkpoint(parse_note(kept).text)
            except NoteError:
                raise UsageError(
                    f"--out {args.out} exists and is not a checkpoint; not replaced"
                ) from None
            extra.append((f"the checkpoint {args.out}", kept))
    if args.witness is not None:
        _outside_store(args.witness, root, "a witness directory")
        if args.witness.exists() and not args.witness.is_dir():
            raise UsageError(f"--witness {args.witness} is not a directory")
        if args.witness.is_dir():
            extra += _witness_notes(args.witness)
    with open_store(args, create=False) as store:
        res = Ledger(store).checkpoint(signers, adopt=args.adopt, extra_checkpoints=extra)
    for n in res.notes:
        _err(f"note: {n}")
    if res.note is None:
        for p in res.problems:
            _err(f"TAMPERED: {p}")
        _err(
            "refused to sign: the log is not intact, and a checkpoint would vouch for what "
            "was changed (promptwitness ledger verify --pub ... says more)"
        )
        return EXIT_BAD
    if res.adopted:
        _err(
            f"adopted {len(res.adopted)} exchange(s) captured before the store had a ledger "
            f"({_id_list(res.adopted)}), as they are now; the checkpoint records the adoption"
        )
    if res.pending:
        _err(
            f"warning: {len(res.pending)} exchange(s) have no leaf in the log "
            f"({_id_list(res.pending)}) and were NOT signed: captured before the store had a "
            "ledger, or put there behind the log's back. Review them (promptwitness show "
            "ID), then adopt them: promptwitness ledger checkpoint --adopt --key ..."
        )
    _out(res.note)
    if args.out is not None:
        _replace_file(args.out, res.note)
        _err(f"wrote {args.out}")
    if args.witness is not None:
        _err(f"kept {_witness_write(args.witness, res.note, res.size)}")
    return EXIT_OK


def _id_list(ids: list[int], most: int = 10) -> str:
    more = f", … ({len(ids) - most} more)" if len(ids) > most else ""
    return "ids " + ", ".join(str(i) for i in ids[:most]) + more


def _verdict(rep: VerifyReport, trusted: bool) -> str:
    stats = (
        f"{rep.size} leaves, {rep.exchanges} exchanges, {rep.blobs} blobs re-hashed, "
        f"{rep.checkpoints} checkpoint(s)"
    )
    if rep.problems:
        return f"log NOT intact ({len(rep.problems)} problem(s)): {stats}"
    if not trusted:
        part = ", partly unsigned" if rep.unsigned else ""
        return f"log consistent{part} (signatures not checked: give --pub KEY): {stats}"
    if rep.unsigned:
        pending = f", {len(rep.pending)} exchange(s) without a leaf" if rep.pending else ""
        return (
            "log UNSIGNED: nothing was found changed, but not all of the store is covered by "
            f"a checkpoint signed by the given key(s) ({rep.signed_size} of {rep.size} leaves "
            f"signed{pending}): {stats}"
        )
    return f"log intact: {stats}{' with signatures checked' if rep.checkpoints else ''}"


def cmd_verify_log(args: argparse.Namespace) -> int:
    trusted = [keys.load_public(p) for p in args.pub]
    extra: list[tuple[str, str]] = []
    for path in args.checkpoint:
        if path.is_dir():
            found = _witness_notes(path)
            if not found:
                _err(f"note: {path} holds no checkpoint (*{WITNESS_SUFFIX}) yet")
            extra += found
        else:
            extra.append((f"the checkpoint {path}", _read_note(path)))
    with open_store(args, readonly=True) as store:
        rep = Ledger(store).verify(trusted, extra)
    code = EXIT_BAD if rep.problems else EXIT_UNSIGNED if trusted and rep.unsigned else EXIT_OK
    if args.json:
        json.dump(
            {
                "ok": code == EXIT_OK,
                "verdict": rep.verdict if trusted or rep.problems else "consistent",
                "signed_size": rep.signed_size,
                "unsigned": rep.unsigned,
                "size": rep.size,
                "exchanges": rep.exchanges,
                "blobs": rep.blobs,
                "checkpoints": rep.checkpoints,
                "signatures_checked": rep.signatures_checked,
                "problems": rep.problems,
                "notes": rep.notes,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        for p in rep.problems:
            _err(f"TAMPERED: {p}")
        for u in rep.unsigned:
            _err(f"UNSIGNED: {u}")
        for n in rep.notes:
            _err(f"note: {n}")
        _out(_verdict(rep, bool(trusted)) + "\n")
    return code


def cmd_prove(args: argparse.Namespace) -> int:
    with open_store(args, readonly=True) as store:
        proof = Ledger(store).prove(args.id, args.size)
    json.dump(proof.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_consistency(args: argparse.Namespace) -> int:
    with open_store(args, readonly=True) as store:
        proof = Ledger(store).consistency(args.old, args.new)
    json.dump(proof.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


# -- attest -----------------------------------------------------------------------------


def _exchange_ref(store: Store, x: StoredExchange) -> dict[str, Any]:
    """What identifies an exchange: id, digests, and its leaf in the log (if logged)."""
    ledger = Ledger(store)
    leaf = next(((i, h) for i, e, h in ledger.leaves() if e == x.id), None)
    return {
        "exchange": x.id,
        "run": x.run,
        "store": ledger.origin(),
        "method": x.method,
        "path": x.path,
        "request_sha256": x.request_sha256,
        "request_size": x.request_size,
        "response_sha256": x.response_sha256,
        "leaf_index": leaf[0] if leaf else None,
        "leaf_hash": base64.b64encode(leaf[1]).decode() if leaf else None,
    }


def _segments(store: Store, x: StoredExchange) -> tuple[Any, list[Any]]:
    from promptwitness.analysis.segments import segments
    from promptwitness.protocols import parse_request

    outcome = parse_request(x.raw_request(store.request_body(x)))
    if outcome.prompt is None:
        raise UsageError(
            f"exchange {x.id} has no prompt: {outcome.error or 'not a model call'} "
            f"({x.method} {x.target})"
        )
    return outcome, list(segments(outcome.prompt))


def _write_envelope(args: argparse.Namespace, st: dict[str, Any], signers: list[Signer]) -> None:
    env = dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, statements.statement_bytes(st), signers)
    try:
        args.output.write_text(env.dumps(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    names = ", ".join(s.verifier.id for s in signers)
    _err(f"wrote {args.output}: {st['predicateType']}, signed by {names}")


def _agent_from_headers(x: StoredExchange) -> tuple[str | None, str | None]:
    ua = next((v for k, v in x.request_headers if k.lower() == "user-agent"), None)
    if not ua:
        return None, None
    first = ua.split()[0]
    name, _, version = first.partition("/")
    return name or None, version or None


def cmd_attest_manifest(args: argparse.Namespace) -> int:
    signers = _signers(args)
    with open_store(args, create=False) as store:
        x = store.get(args.exchange)
        outcome, segs = _segments(store, x)
        ua_name, ua_version = _agent_from_headers(x)
        name = args.agent or ua_name
        version = args.agent_version or (ua_version if args.agent is None else None)
        if not name:
            raise UsageError("name the agent with --agent (no user-agent header to take it from)")
        ref = _exchange_ref(store, x)
        pred = statements.manifest_predicate(
            agent={"name": name, "version": version},
            protocol=outcome.protocol,
            request={
                "method": x.method,
                "path": x.path,
                "sha256": x.request_sha256,
                "size": x.request_size,
            },
            segments=segs,
            whole=args.per_run,
            capture=ref,
            include_values=not args.digests_only,
        )
    st = statements.statement(
        [(f"{name}@{version or 'unknown'}/request-body", x.request_sha256)],
        statements.PROMPT_MANIFEST,
        pred,
    )
    _write_envelope(args, st, signers)
    return EXIT_OK


def cmd_attest_probe(args: argparse.Namespace) -> int:
    signers = _signers(args)
    try:
        raw = args.report.read_bytes()
        report = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the report {args.report}: {exc}") from exc
    if not isinstance(report, dict) or not str(report.get("schema", "")).startswith(
        "promptwitness/"
    ):
        raise UsageError(f"{args.report} is not a promptwitness report (no 'schema')")
    runs = [r.get("run") for r in report.get("runs") or [] if isinstance(r, dict)]
    exchanges: list[dict[str, Any]] = []
    with open_store(args, create=False) as store:
        for run in runs:
            if isinstance(run, str):
                exchanges += [_exchange_ref(store, x) for x in store.exchanges(run=run)]
    pred = {
        "report_schema": report.get("schema"),
        "report_sha256": hashlib.sha256(raw).hexdigest(),
        "verdict": report.get("verdict"),
        "findings": report.get("findings", []),
        "report": report,
        "exchanges": exchanges,
    }
    subjects = [("probe-report.json", hashlib.sha256(raw).hexdigest())]
    subjects += [(f"exchange/{e['exchange']}/request-body", e["request_sha256"]) for e in exchanges]
    st = statements.statement(subjects, statements.PROBE_RESULT, pred)
    _write_envelope(args, st, signers)
    if runs and not exchanges:
        _err("note: no exchange of the report's runs is in this store (use --store DIR)")
    return EXIT_OK


def cmd_attest_diff(args: argparse.Namespace) -> int:
    from promptwitness.analysis.detectors import classify
    from promptwitness.analysis.diff import diff_segments

    signers = _signers(args)
    with open_store(args, create=False) as store:
        xa, xb = store.get(args.a), store.get(args.b)
        _, sa = _segments(store, xa)
        _, sb = _segments(store, xb)
        changes = [c for d in diff_segments(sa, sb) for c in classify(d)]
        ra, rb = _exchange_ref(store, xa), _exchange_ref(store, xb)
    ra["label"], rb["label"] = args.label_a, args.label_b
    pred = statements.diff_predicate(ra, rb, changes)
    st = statements.statement(
        [
            (f"a/exchange/{xa.id}/request-body", xa.request_sha256),
            (f"b/exchange/{xb.id}/request-body", xb.request_sha256),
        ],
        statements.PROMPT_DIFF,
        pred,
    )
    _write_envelope(args, st, signers)
    return EXIT_OK


# -- verify -----------------------------------------------------------------------------


def cmd_verify_statement(args: argparse.Namespace) -> int:
    trusted: list[Verifier] = [keys.load_public(p) for p in args.pub]
    try:
        text = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    try:
        env = dsse.Envelope.loads(text)
        if env.payload_type != dsse.IN_TOTO_PAYLOAD_TYPE:
            raise dsse.EnvelopeError(
                f"payloadType is {env.payload_type!r}, not {dsse.IN_TOTO_PAYLOAD_TYPE!r}"
            )
        signed = dsse.verify(env, trusted)
        st = statements.parse_statement(env.payload)
    except (dsse.EnvelopeError, statements.StatementError, NoteError) as exc:
        _err(f"BAD: {args.file}: {exc}")
        return EXIT_BAD
    ptype = st["predicateType"]
    _out(f"good signature(s) by {', '.join(v.id for v in signed)} on {ptype}\n")
    if args.against is None:
        return EXIT_OK
    if ptype != statements.PROMPT_MANIFEST:
        raise UsageError("--against needs a prompt manifest")
    with open_store(args, create=False) as store:
        x = store.get(args.against)
        _, segs = _segments(store, x)
    request = st["predicate"].get("request") or {}
    same_body = request.get("sha256") == x.request_sha256
    try:
        mismatches = statements.check_manifest(st["predicate"], segs)
    except statements.StatementError as exc:
        _err(f"BAD: {args.file}: {exc}")
        return EXIT_BAD
    if mismatches:
        for mm in mismatches:
            _err(f"MISMATCH: {mm}")
        _err(f"exchange {x.id} does NOT match the manifest ({len(mismatches)} difference(s))")
        return EXIT_BAD
    per_run = sum(1 for e in st["predicate"]["segments"] if e.get("per_run"))
    _out(
        f"exchange {x.id} matches the manifest: every fixed segment identical, "
        f"{per_run} per-run segment(s) kept their form"
        f"{'; the request body is byte-identical' if same_body else ''}\n"
    )
    return EXIT_OK
