"""Plants, orders and plan versions in a database (SQLAlchemy; SQLite or MariaDB/MySQL)."""

from rrl.storage.store import DEFAULT_URL, NotFound, Store, StoreError, Version, VersionConflict

__all__ = ["DEFAULT_URL", "NotFound", "Store", "StoreError", "Version", "VersionConflict"]
