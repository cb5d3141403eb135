"""One line per stored exchange (sans-IO): what ``promptwitness serve`` prints.

``serve`` hands ``exchange_line`` to the capture server as its hooks' ``line_format``:
the store writer (thread or process) makes the lines where the redacted exchange is,
so a gateway that prints them does not ship every redacted exchange back to its server
process (see ``capture.writer``, ``capture.writer_process``). The capture code never
imports this module.
"""

from __future__ import annotations

from promptwitness.model import CapturedExchange
from promptwitness.report.unicode import mark

__all__ = ["exchange_line", "human_size"]


def human_size(n: int | None) -> str:
    """``2.0 KB``, ``512 B``, ``-`` for unknown (decimal units)."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def exchange_line(ex_id: int, ex: CapturedExchange) -> str:
    """The line (with its newline) for the stored exchange ``ex_id``, which must be the
    *redacted* exchange. Plain text: what the client chose (method, host, target) and
    the error text are marked as in every report, so no control character, escape
    sequence or bidi override reaches the terminal raw."""
    status = ex.status if ex.status is not None else "-"
    flag = f"  ! {mark(ex.error)}" if ex.error else ""
    return (
        f"#{ex_id} {mark(ex.method)} {mark(ex.host)}{mark(ex.target)} → {status} "
        f"({human_size(len(ex.request_body))} / {human_size(len(ex.response_body))}){flag}\n"
    )
