"""Helpers shared by the command modules: the store option, sizes, consoles."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from promptwitness.errors import UsageError
from promptwitness.report.lines import human_size
from promptwitness.store import Store

__all__ = [
    "add_store_option",
    "human_size",
    "open_store",
    "status",
    "stderr_console",
    "stdout_console",
    "write_report",
]


def add_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        type=str,
        default=None,
        metavar="DIR|URL",
        help=(
            "capture store: a directory (SQLite) or a postgresql:// URL (default: "
            "$PROMPTWITNESS_STORE, else the per-user data directory)"
        ),
    )


def open_store(args: argparse.Namespace, *, create: bool = True, readonly: bool = False) -> Store:
    """The store of ``--store``. Commands that only read pass ``create=False`` (a typo'd
    path is "no store at ...", exit 2, never a new empty store); ``readonly=True`` also
    writes nothing (read-only media)."""
    return Store.open(args.store, create=create, readonly=readonly)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@contextmanager
def status(console: Console, text: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with ``text`` on a terminal; in a log (not a terminal), ``text`` as a
    line now and how long it took when it ends, so long work is never silent; nothing
    with ``quiet``."""
    if quiet:
        yield
        return
    if console.is_terminal:
        with console.status(text):
            yield
        return
    console.print(text, markup=False, highlight=False)
    t0 = time.monotonic()
    yield
    took = time.monotonic() - t0
    if took >= 2:
        console.print(f"… done in {took:.0f} s", markup=False, highlight=False)


def write_report(path: str, text: str, what: str, *, quiet: bool = False) -> None:
    """Write one report file (``what``: "JSON report", "HTML report", ...) and say so on
    standard error; a path that cannot be written is a clear error, not a traceback."""
    try:
        Path(path).write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UsageError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from None
    if not quiet:
        stderr_console().print(
            f"wrote {path} ({what})", markup=False, highlight=False, soft_wrap=True
        )
