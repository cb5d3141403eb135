"""``serve``'s per-exchange line (``report.lines``): plain text, nothing raw from the
client."""

from __future__ import annotations

from promptwitness.model import CapturedExchange
from promptwitness.report.lines import exchange_line


def _ex(**kw: object) -> CapturedExchange:
    base: dict[str, object] = {
        "method": "POST",
        "target": "/v1/messages?beta=true",
        "host": "127.0.0.1:8787",
        "request_body": b"x" * 2048,
        "status": 200,
        "response_body": b"y" * 10,
    }
    base.update(kw)
    return CapturedExchange(**base)  # type: ignore[arg-type]


def test_plain_exchange_line() -> None:
    assert exchange_line(7, _ex()) == (
        "#7 POST 127.0.0.1:8787/v1/messages?beta=true → 200 (2.0 KB / 10 B)\n"
    )


def test_no_status_and_error() -> None:
    line = exchange_line(1, _ex(status=None, error="client disconnected after 0 bytes"))
    assert line.startswith("#1 POST 127.0.0.1:8787/v1/messages?beta=true → - (")
    assert line.endswith("  ! client disconnected after 0 bytes\n")


def test_control_characters_and_bidi_overrides_are_marked_not_written() -> None:
    line = exchange_line(
        2,
        _ex(
            host="evil\x1b]0;owned\x07",
            target="/v1/\u202emessages\r",
            method="PO\x00ST",
            error="upstream said \x1b[2J",
        ),
    )
    assert line.count("\n") == 1 and line.endswith("\n")
    for raw in ("\x1b", "\x07", "\x00", "\r", "\u202e"):
        assert raw not in line
    for shown in ("U+001B", "U+0007", "U+0000", "U+000D", "U+202E RIGHT-TO-LEFT OVERRIDE"):
        assert shown in line
