"""The capture store (IO edge): exchange rows, content-addressed zstd blobs, the log.

See ``store.db`` for the rules; ``store.sqlite`` (the embedded default, migrations in
``store.schema``) and ``store.postgres`` (a database shared by gateway replicas) are its
two backends.
"""

from promptwitness.store.db import (
    DB_NAME,
    LogLeaf,
    RunRecord,
    Store,
    StoredExchange,
    StoreStats,
    default_store_location,
)

__all__ = [
    "DB_NAME",
    "LogLeaf",
    "RunRecord",
    "Store",
    "StoreStats",
    "StoredExchange",
    "default_store_location",
]
