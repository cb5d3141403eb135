"""``scan``: static discovery of what an agent's code reads and hides.

``promptwitness scan TARGET`` scans a file, a directory or ``AGENT@VERSION`` (the
agent cache; installed first when missing); ``promptwitness scan -- CMD...`` scans
the code files one traced, sandboxed run of CMD loads
(``promptwitness.discover.trace.files_loaded_by``). The library call is
``promptwitness.discover.scan.scan``; this module only resolves the target, shows
progress and prints.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptwitness.cli.common import status, stderr_console, stdout_console, write_report
from promptwitness.errors import UsageError

__all__ = ["add_parsers", "cmd_scan", "loaded_files"]

PROGRESS_EVERY = 3.0  # seconds between progress lines when stderr is not a terminal


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "scan",
        help="static discovery: what an agent's code reads (environment, zone, locale, "
        "files) and hides (encoded string tables, look-alike characters)",
        description=(
            "Scan TARGET statically: a file, a directory, or AGENT@VERSION (the agent "
            "cache; installed first when missing). JS/TS bundles, Python sources and "
            ".pyc files, JSON, archives, single-file executables (Bun, Node SEA, pkg: "
            "their embedded sources) and the printable strings of other binaries are "
            "read. Reported: string tables hidden behind encodings (base64, hex, XOR, "
            "zlib, escapes, char codes... and chains of them) or written in clear as "
            "lists of hosts, zones or locales; string literals holding look-alike or "
            "invisible code points; and the environment reads in the code (variables, "
            "time zone, locale, host and user names, network interfaces, files, DNS). "
            "`scan -- CMD...` scans the code files one traced, sandboxed run of CMD "
            "loads. Exit codes: 0 done (findings or not), 2 error."
        ),
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        help="write the promptwitness/scan-report/v1 JSON here ('-': stdout)",
    )
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report here")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        metavar="N",
        help="stop reading and decoding after N seconds; what is left is named "
        "in a note (default 300)",
    )
    p.add_argument(
        "--max-mb",
        type=int,
        default=None,
        metavar="N",
        help="read at most N MiB over the whole target (default 4096)",
    )
    p.add_argument(
        "--all-strings",
        action="store_true",
        help="also read the printable strings of images, fonts, source maps and "
        "other skipped files, and of a single-file executable's runtime",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    p.add_argument(
        "rest", nargs=argparse.REMAINDER, metavar="TARGET | -- CMD ...", help="what to scan"
    )
    p.set_defaults(func=cmd_scan, scan_parser=p)


def loaded_files(argv: Sequence[str]) -> list[str]:
    """The code files one traced run of ``argv`` loads (``discover.trace``)."""
    try:
        from promptwitness.discover.trace import files_loaded_by
    except ImportError as exc:
        raise UsageError(
            "scan -- CMD needs the traced run (promptwitness.discover.trace), which is "
            f"not available in this installation ({exc}); scan a path or AGENT@VERSION"
        ) from None
    return list(files_loaded_by(list(argv)))


class _Progress:
    """Progress on standard error: a rich status line on a terminal, else a line every
    ``PROGRESS_EVERY`` seconds."""

    def __init__(self, quiet: bool) -> None:
        self.console = stderr_console()
        self.quiet = quiet
        self.tty = self.console.is_terminal
        self.status: Any = None
        self.started = time.monotonic()
        self.last = self.started
        self.files = 0
        self.current = ""
        self.bytes = 0

    def __enter__(self) -> _Progress:
        if not self.quiet and self.tty:
            self.status = self.console.status("scanning")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if self.quiet:
            return
        if event == "file":
            self.files += 1
            self.current = str(info.get("path", ""))
        elif event == "progress":
            done, size = info.get("done", 0), info.get("size", 0)
            self.current = f"{info.get('path', '')} ({done * 100 // max(1, size)} %)"
        self.bytes = int(info.get("bytes", self.bytes) or self.bytes)
        now = time.monotonic()
        line = (
            f"scan: {self.files} files, {self.bytes / (1 << 20):.1f} MiB, "
            f"{now - self.started:.0f} s: {self.current[-100:]}"
        )
        if self.status is not None:
            self.status.update(line)
        elif now - self.last >= PROGRESS_EVERY:
            self.last = now
            print(line, file=sys.stderr, flush=True)


def cmd_scan(args: argparse.Namespace) -> int:
    from promptwitness.discover.scan import scan
    from promptwitness.discover.sources import Target, resolve_target
    from promptwitness.report.scan_text import render_scan

    rest: list[str] = list(args.rest)
    command: list[str] = []
    spec = ""
    if rest and rest[0] == "--":
        command = rest[1:]
        if not command:
            raise UsageError("scan -- CMD: no command after --")
    elif not rest:
        raise UsageError("scan needs a TARGET (a path or AGENT@VERSION) or -- CMD...")
    else:
        spec = rest[0]
        if len(rest) > 1:  # options written after TARGET
            args.scan_parser.parse_args(rest[1:], namespace=args)
            if args.rest:
                raise UsageError(f"scan takes one TARGET; got also {shlex.join(args.rest)}")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise UsageError("--max-seconds must be positive")
    if args.max_mb is not None and args.max_mb <= 0:
        raise UsageError("--max-mb must be positive")
    console = stderr_console()
    if command:
        what = "tracing one run of the command to list the files it loads"
        with status(console, what, quiet=args.quiet):
            files = loaded_files(command)
        if not files:
            raise UsageError(f"the traced run of {shlex.join(command)} loaded no code file")
        target = Target.of_files("-- " + shlex.join(command), files)
    elif "@" in spec[1:] and not Path(spec).exists():
        what = f"resolving {spec} in the agent cache (installed the first time)"
        with status(console, what, quiet=args.quiet):
            target = resolve_target(spec, install=True)
    else:
        target = resolve_target(spec)
    with _Progress(args.quiet) as progress:
        report = scan(
            target,
            max_seconds=args.max_seconds,
            max_bytes=args.max_mb << 20 if args.max_mb else None,
            all_strings=args.all_strings,
            progress=progress,
        )
    if args.json:
        text = json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            _write(args.json, text)
    if args.html:
        from promptwitness.report.scan_html import render_scan_html

        _write(args.html, render_scan_html(report))
    if not args.quiet:
        out = console if args.json == "-" else stdout_console()
        out.print(render_scan(report))
    return 0


def _write(path: str, text: str) -> None:
    what = {".json": "JSON report", ".html": "HTML report"}.get(Path(path).suffix, "report")
    write_report(path, text, what)
