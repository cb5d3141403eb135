"""Every error the tool raises is part of one tree under ``errors.Error`` (mapped once
at the CLI's edge), and keeps the library base classes its callers catch."""

from __future__ import annotations

import pytest

from promptwitness import errors
from promptwitness.agents.cache import InstallError
from promptwitness.capture.connect import ConnectError
from promptwitness.capture.dns import DnsFormatError
from promptwitness.capture.upstream import UpstreamBroken, UpstreamTimeout
from promptwitness.capture.writer_process import WriterProcessError
from promptwitness.ledger.dsse import EnvelopeError
from promptwitness.ledger.merkle import ProofError
from promptwitness.ledger.note import NoteError
from promptwitness.ledger.statements import StatementError
from promptwitness.probe.netns import SandboxError
from promptwitness.probe.runner import ProbeError
from promptwitness.protocols.encoding import CodingError


@pytest.mark.parametrize(
    "cls",
    [
        InstallError,
        ConnectError,
        DnsFormatError,
        UpstreamBroken,
        UpstreamTimeout,
        WriterProcessError,
        EnvelopeError,
        ProofError,
        NoteError,
        StatementError,
        SandboxError,
        ProbeError,
        CodingError,
    ],
)
def test_every_error_is_in_the_tree(cls: type) -> None:
    assert issubclass(cls, errors.Error)
    assert cls.__module__ in (
        "promptwitness.errors",
        "promptwitness.capture.connect",
        "promptwitness.capture.dns",
    )


def test_library_bases_are_kept() -> None:
    for cls in (ConnectError, DnsFormatError, ProofError, NoteError, EnvelopeError, StatementError):
        assert issubclass(cls, ValueError)
    assert issubclass(WriterProcessError, RuntimeError)
    assert ConnectError("x", 405).status == 405
    assert CodingError("too-large", "gzip", "over 1 MiB").kind == "too-large"


def test_the_tree_in_the_docstring_names_every_class() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, name
