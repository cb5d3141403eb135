"""The ``promptwitness`` command: argument parsing and dispatch.

Each command group is one module with ``add_parser(subparsers)`` that registers its
sub-commands and sets ``func`` on the parsed namespace. ``main`` maps every
``promptwitness.errors.Error`` to ``error: …`` on standard error and exit code 2, and
any other exception (a bug) to its traceback and exit code 2 too: exit code 1 means
"conditioned", which an uncaught exception would otherwise also give.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from promptwitness import __version__
from promptwitness.errors import Error

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    from promptwitness.cli import (
        agents,
        capture,
        discover,
        discovery,
        drift,
        history,
        inspect,
        ledger,
        probe,
        transfer,
    )

    parser = argparse.ArgumentParser(
        prog="promptwitness",
        description="Witness, byte for byte, what AI coding agents send to their models.",
    )
    parser.add_argument("--version", action="version", version=f"promptwitness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        capture,
        inspect,
        transfer,
        probe,
        discover,
        discovery,
        drift,
        agents,
        history,
        ledger,
    ):
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        code: int = args.func(args)
        return code
    except Error as exc:
        print(f"promptwitness: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("promptwitness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # a bug: never let it pass for a verdict (Python's own exit is 1)
        traceback.print_exc()
        print(
            "promptwitness: internal error (a bug in promptwitness, not in your input; the "
            "traceback above helps us fix it); exit code 2",
            file=sys.stderr,
        )
        return EXIT_ERROR


def entry() -> None:
    sys.exit(main())
