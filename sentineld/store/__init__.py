"""Persistence. `Store` is the narrow interface the pipeline, the CLI and the HTTP side use;
`SQLiteStore` is the embedded default. Another backend implements the same methods."""

from sentineld.store.base import OutboxItem, Store, StoreError
from sentineld.store.sqlite import SQLiteStore, open_store

__all__ = ["OutboxItem", "SQLiteStore", "Store", "StoreError", "open_store"]
