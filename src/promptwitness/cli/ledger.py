"""``keys``, ``ledger``, ``attest`` and ``verify``: provenance (docs/provenance.md).

Exit codes: ``ledger verify`` and ``verify`` exit 0 when everything checks out and 1
with a precise message when anything does not; usage and store errors exit 2.
Key material is never printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from promptwitness.cli.common import add_store_option, open_store
from promptwitness.errors import UsageError
from promptwitness.ledger import dsse, keys, statements
from promptwitness.ledger.log import Ledger
from promptwitness.ledger.note import NoteError, Signer, Verifier
from promptwitness.store import Store, StoredExchange, default_store_dir

EXIT_OK = 0
EXIT_BAD = 1


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
    c = lsub.add_parser("checkpoint", help="sign and keep a checkpoint of the log")
    add_store_option(c)
    c.add_argument("--key", required=True, type=Path, action="append", metavar="PREFIX.key")
    c.set_defaults(func=cmd_checkpoint)
    v = lsub.add_parser(
        "verify",
        help="recompute the log from the records and blobs and check every checkpoint",
        description="Exit status: 0 intact, 1 changed (with what changed), 2 error.",
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
        metavar="FILE",
        help="also check a checkpoint kept elsewhere (a signed note)",
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


def _store_root(args: argparse.Namespace) -> Path:
    return Path(args.store).expanduser() if args.store is not None else default_store_dir()


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


def cmd_checkpoint(args: argparse.Namespace) -> int:
    signers = _signers(args)
    with open_store(args) as store:
        note, adopted = Ledger(store).checkpoint(signers)
    if adopted:
        _err(f"adopted {adopted} exchange(s) captured before the store had a ledger")
    _out(note)
    return EXIT_OK


def cmd_verify_log(args: argparse.Namespace) -> int:
    trusted = [keys.load_public(p) for p in args.pub]
    extra: list[str] = []
    for path in args.checkpoint:
        try:
            extra.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the checkpoint {path}: {exc}") from exc
    with open_store(args) as store:
        rep = Ledger(store).verify(trusted, extra)
    if args.json:
        json.dump(
            {
                "ok": rep.ok,
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
        for n in rep.notes:
            _err(f"note: {n}")
        verdict = "intact" if rep.ok else f"NOT intact ({len(rep.problems)} problem(s))"
        _out(
            f"log {verdict}: {rep.size} leaves, {rep.exchanges} exchanges, {rep.blobs} blobs "
            f"re-hashed, {rep.checkpoints} checkpoint(s)"
            f"{' with signatures checked' if rep.signatures_checked and rep.checkpoints else ''}"
            "\n"
        )
    return EXIT_OK if rep.ok else EXIT_BAD


def cmd_prove(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        proof = Ledger(store).prove(args.id, args.size)
    json.dump(proof.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_consistency(args: argparse.Namespace) -> int:
    with open_store(args) as store:
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
    with open_store(args) as store:
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
    with open_store(args) as store:
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
    with open_store(args) as store:
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
    with open_store(args) as store:
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
