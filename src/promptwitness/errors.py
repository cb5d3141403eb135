"""One error base for everything promptwitness reports to a user.

    Error                       -- anything the CLI prints as "error: ..." and exits 2
    ├── ParseError              -- a captured body is not valid for its protocol (the agent's doing)
    ├── StoreError              -- the store is missing, corrupt, or of an unknown schema
    │   └── NotFound            -- no exchange / run / blob with that id
    ├── CaptureError            -- the capture server could not start or serve
    └── UsageError              -- the user's arguments do not make sense

Library exceptions (sqlite3, aiohttp, zstandard, OSError) are mapped to these at the IO
edges, with a message that says what to do.
"""

from __future__ import annotations


class Error(Exception):
    """Base class: ``str(err)`` is a message a user can act on."""


class ParseError(Error):
    """A request or response body is not valid for the protocol it was sent to."""


class StoreError(Error):
    """The store cannot be opened, read or written."""


class NotFound(StoreError):
    """No record with the given id."""


class CaptureError(Error):
    """The capture server failed (not the agent, not the upstream)."""


class UsageError(Error):
    """Arguments that cannot be acted upon."""
