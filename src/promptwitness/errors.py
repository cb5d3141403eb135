"""Every error promptwitness raises, in one tree. The CLI maps ``Error`` once, at its
edge (``cli.main``): ``error: <message>`` and exit code 2; anything else is a bug
(its traceback, exit code 2).

    Error                         -- anything the CLI prints as "error: ..." and exits 2
    ├── UsageError                -- the user's arguments do not make sense
    ├── ParseError                -- a captured body is not valid for its protocol
    ├── CodingError               -- a body's content coding cannot be decoded
    ├── StoreError                -- the store is missing, corrupt, or of an unknown schema
    │   └── NotFound              -- no exchange / run / blob with that id
    ├── CaptureError              -- the capture server could not start or serve
    │   ├── WriterProcessError    -- its writer process is gone or answered nonsense
    │   ├── WireError             -- a client's bytes we refuse (CONNECT head, DNS query)
    │   └── UpstreamError         -- pass-through: the provider could not be reached
    │       ├── UpstreamConnectError
    │       ├── UpstreamTimeout
    │       └── UpstreamBroken
    ├── LedgerError               -- the log and its signed documents
    │   ├── ProofError            -- a Merkle proof does not verify
    │   ├── NoteError             -- a signed note or key is malformed or does not verify
    │   ├── EnvelopeError         -- a DSSE envelope is malformed or does not verify
    │   └── StatementError        -- an in-toto statement is not one we know
    ├── SandboxError              -- a run's sandbox cannot be built on this machine
    ├── ProbeError                -- a probe could not run at all
    └── InstallError              -- an agent could not be installed

The parsers' errors (``WireError``, the ledger's) are also ``ValueError``s and
``WriterProcessError`` a ``RuntimeError``, as the library code that catches them by
those names expects. Library exceptions (sqlite3, OSError, ...) are mapped to these at
the IO edges, with a message that says what to do. Errors that carry more than a
message (``ConnectError``'s status, ``DnsFormatError``'s header) subclass these in their
modules.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CaptureError",
    "CodingError",
    "EnvelopeError",
    "Error",
    "InstallError",
    "LedgerError",
    "NoteError",
    "NotFound",
    "ParseError",
    "ProbeError",
    "ProofError",
    "SandboxError",
    "StatementError",
    "StoreError",
    "UpstreamBroken",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamTimeout",
    "UsageError",
    "WireError",
    "WriterProcessError",
]


class Error(Exception):
    """Base class: ``str(err)`` is a message a user can act on."""


class UsageError(Error):
    """Arguments that cannot be acted upon."""


class ParseError(Error):
    """A request or response body is not valid for the protocol it was sent to."""


class CodingError(Error):
    """Why a body could not be decoded. ``kind``: ``unknown`` (a coding we do not
    know), ``too-large`` (more than the limit: a decompression bomb), ``truncated``
    (the stream ends early) or ``corrupt`` (not that format, or damaged)."""

    def __init__(self, kind: str, coding: str, message: str) -> None:
        super().__init__(f"{coding}: {message}" if coding else message)
        self.kind = kind
        self.coding = coding


class StoreError(Error):
    """The store cannot be opened, read or written."""


class NotFound(StoreError):
    """No record with the given id."""


class Damaged(StoreError):
    """Stored bytes no longer match their address (the store was damaged or edited)."""


class CaptureError(Error):
    """The capture server failed (not the agent, not the upstream)."""


class WriterProcessError(CaptureError, RuntimeError):
    """The writer process is gone or answered nonsense."""


class WireError(CaptureError, ValueError):
    """A client's bytes the capture server refuses (and answers as the protocol says)."""


class UpstreamError(CaptureError):
    """The upstream could not be reached or did not answer properly."""


class UpstreamConnectError(UpstreamError):
    """No connection: refused, unreachable, name not resolved, TLS handshake failed."""


class UpstreamTimeout(UpstreamError):
    """No connection, or no byte, within the timeout."""

    def __init__(self, message: str, received: int = 0) -> None:
        super().__init__(message)
        self.received = received


class UpstreamBroken(UpstreamError):
    """The connection ended or went wrong before the answer was complete."""

    def __init__(
        self, kind: Literal["reset", "truncated", "invalid"], message: str, received: int = 0
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.received = received  # body bytes received before it


class LedgerError(Error, ValueError):
    """The log, a proof, a signed note, envelope or statement."""


class ProofError(LedgerError):
    """A proof does not verify (or its parameters make no sense)."""


class NoteError(LedgerError):
    """A malformed note or key, or a signature that does not verify."""


class EnvelopeError(LedgerError):
    """A malformed envelope or a signature that does not verify."""


class StatementError(LedgerError):
    """A payload that is not a Statement v1 with a known predicate."""


class SandboxError(Error):
    """The sandbox cannot be built on this machine."""


class ProbeError(Error):
    """The probe could not run at all (exit code 2)."""


class InstallError(Error):
    """An agent could not be installed."""
