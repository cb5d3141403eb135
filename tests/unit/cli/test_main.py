"""``promptwitness.cli.main``: every way out has the documented exit code."""

from __future__ import annotations

import argparse

import pytest

from promptwitness import cli
from promptwitness.errors import UsageError


def _with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def func(args: argparse.Namespace) -> int:
        raise exc

    real = cli.build_parser

    def parser() -> argparse.ArgumentParser:
        p = real()
        p.set_defaults(func=func)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)


def test_a_bug_is_exit_2_never_1_which_means_conditioned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _with(monkeypatch, KeyError("oops"))
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "KeyError: 'oops'" in err and "internal error" in err


def test_a_user_error_is_exit_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _with(monkeypatch, UsageError("no such factor"))
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err == "promptwitness: error: no such factor\n"


def test_interrupt_is_130(monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, KeyboardInterrupt())
    assert cli.main([]) == 130
