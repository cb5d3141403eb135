"""``ServerConfig``: the capture server's settings, checked when made; ``ServerHooks``:
what its owner hears, each hook optional."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.errors import CaptureError
from promptwitness.model import CannedReply, CapturedExchange
from promptwitness.report.lines import exchange_line


class _Store:
    def add(self, ex: CapturedExchange) -> int:
        return 1

    def salt(self) -> bytes:
        return b"s" * 32


def test_defaults_are_the_documented_ones() -> None:
    c = ServerConfig()
    assert (c.upstream, c.run, c.fallback, c.upstream_ssl) == (None, None, None, None)
    assert dict(c.answers) == {}
    assert (c.writer, c.commit_before_answer) == ("thread", True)
    assert (c.upstream_timeout, c.shutdown_timeout) == (600.0, 5.0)
    assert c.max_body == 256 * 1024 * 1024
    assert (c.max_backlog, c.max_backlog_bytes) == (512, 64 * 1024 * 1024)


def test_frozen_and_its_answers_cannot_change_under_it() -> None:
    answers = {("GET", "/x"): CannedReply(200, (), (b"{}",))}
    c = ServerConfig(answers=answers)
    answers.clear()  # the caller's dict: the config kept its own copy
    assert list(c.answers) == [("GET", "/x")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.run = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.answers[("GET", "/y")] = CannedReply(200, (), ())  # type: ignore[index]


def test_upstream_is_checked_and_kept_without_its_trailing_slash() -> None:
    assert ServerConfig(upstream="https://api.example.com/v1/").upstream == (
        "https://api.example.com/v1"
    )
    with pytest.raises(CaptureError):
        ServerConfig(upstream="ftp://api.example.com")


@pytest.mark.parametrize(
    "bad",
    [
        {"writer": "fork"},
        {"max_body": 0},
        {"max_backlog": 0},
        {"max_backlog_bytes": -1},
        {"upstream_timeout": 0},
        {"shutdown_timeout": -1.0},
    ],
)
def test_bad_settings_are_refused_when_made(bad: dict[str, object]) -> None:
    with pytest.raises(CaptureError):
        ServerConfig(**bad)  # type: ignore[arg-type]


def test_a_config_serves_more_than_one_server() -> None:
    c = ServerConfig(run="r1", max_backlog=3)
    a, b = CaptureServer(_Store(), c), CaptureServer(_Store(), c)
    assert a.config is b.config
    assert a.writer_stats().max_backlog == 3 and a.mode == "sink"
    assert CaptureServer(_Store(), ServerConfig(upstream="http://127.0.0.1:1")).mode == (
        "pass-through"
    )


async def test_hooks_hear_only_what_they_have() -> None:
    """A hook left None is not wired: no exchange comes back for it."""
    seen: list[int] = []
    threads: set[str] = set()

    class OnlyExchanges:
        on_lines = line_format = None

        def on_exchange(self, ex_id: int, ex: CapturedExchange) -> None:
            seen.append(ex_id)
            threads.add(threading.current_thread().name)

    server = CaptureServer(_Store(), hooks=OnlyExchanges())
    assert server._writer.on_stored is not None and server._writer.on_lines is None
    server._writer.start()
    try:
        await server._writer.put(CapturedExchange(method="GET", target="/", host="h"))
    finally:
        await server._writer.aclose()
    assert seen == [1] and threading.current_thread().name not in threads
    quiet = CaptureServer(_Store())
    assert quiet._writer.on_stored is None and quiet._writer.on_lines is None


def test_hooks_that_want_lines_say_how_they_are_made() -> None:
    class LinesOnly:
        on_exchange = line_format = None

        def on_lines(self, lines: list[str]) -> None:
            del lines

    with pytest.raises(CaptureError, match="line_format"):
        CaptureServer(_Store(), hooks=LinesOnly())

    class Lines(LinesOnly):
        line_format = staticmethod(exchange_line)  # type: ignore[assignment]

    server = CaptureServer(_Store(), hooks=Lines())
    assert server._writer.on_stored is None and server._writer.line_format is exchange_line
