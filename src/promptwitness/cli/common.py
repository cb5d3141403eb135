"""Helpers shared by the command modules: the store option, sizes, consoles."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from promptwitness.store import Store


def add_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="capture store (default: $PROMPTWITNESS_STORE, else the per-user data directory)",
    )


def open_store(args: argparse.Namespace) -> Store:
    return Store.open(args.store)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=True)
