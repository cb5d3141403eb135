"""The capture store (IO edge): SQLite rows and content-addressed zstd blobs.

See ``store.db`` for the rules; ``store.schema`` holds the migrations.
"""

from promptwitness.store.db import (
    DB_NAME,
    RunRecord,
    Store,
    StoredExchange,
    StoreStats,
    default_store_dir,
)

__all__ = [
    "DB_NAME",
    "RunRecord",
    "Store",
    "StoreStats",
    "StoredExchange",
    "default_store_dir",
]
