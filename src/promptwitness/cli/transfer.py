"""``export`` and ``import``: HAR 1.2 in and out of the store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from promptwitness.capture.env import secrets_in_env
from promptwitness.capture.har import export_har, import_har
from promptwitness.capture.redact import Redactor
from promptwitness.cli.common import add_store_option, open_store
from promptwitness.errors import UsageError


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    e = sub.add_parser("export", help="write captured exchanges as HAR 1.2")
    add_store_option(e)
    e.add_argument(
        "--har", required=True, metavar="FILE", help="output file ('-' for standard output)"
    )
    e.add_argument("--run", help="only this run")
    e.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these exchanges")
    e.set_defaults(func=cmd_export)

    i = sub.add_parser("import", help="read a HAR 1.2 file into the store (credentials redacted)")
    add_store_option(i)
    i.add_argument("--har", required=True, metavar="FILE")
    i.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the HAR file. Exchanges whose bodies cannot be read (a corrupt blob) are
    left out and listed, the rest is written, and the exit status is 1; a file that
    cannot be written is a clear error (exit 2), never a traceback."""
    out = None if args.har == "-" else Path(args.har)
    if out is not None and not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: no directory {out.parent}")
    unreadable: list[str] = []
    with open_store(args, create=False) as store:
        xs = store.exchanges(run=args.run)
        if args.ids:
            wanted = set(args.ids)
            xs = [x for x in xs if x.id in wanted]
            missing = wanted - {x.id for x in xs}
            if missing:
                raise UsageError(f"no exchange(s) {sorted(missing)} in {store.label}")
        har = export_har(store, xs, unreadable=unreadable)
    text = json.dumps(har, ensure_ascii=False, indent=1)
    written = len(har["log"]["entries"])
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        # written beside the target, then renamed: an existing file is never half-replaced
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
        print(f"promptwitness: wrote {written} exchange(s) to {out}", file=sys.stderr)
    if unreadable:
        print(
            f"promptwitness: {len(unreadable)} exchange(s) could not be read and are not "
            "in the export:",
            file=sys.stderr,
        )
        for line in unreadable:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.har)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a HAR file (not valid JSON: {exc})") from None
    exchanges = import_har(data)
    with open_store(args) as store:
        run = store.begin_run("import", None, {"har": str(path.resolve())})
        redactor = Redactor(store.salt(), known_secrets=secrets_in_env(os.environ))
        for ex in exchanges:
            ex.run = run
            store.add(redactor.redact(ex))
        store.end_run(run, 0)
    print(f"promptwitness: imported {len(exchanges)} exchange(s) as run {run}", file=sys.stderr)
    return 0
