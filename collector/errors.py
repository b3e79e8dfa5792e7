"""The collector's exception tree.

    CollectorError
    ├── SettingsError         settings are missing or unsafe (names the variable)
    ├── IdConflict            ids of a batch were stored before by another probe
    ├── EmbeddedDatabaseError the embedded PostgreSQL could not start
    └── StorageError          a database operation failed (wraps psycopg errors)
        ├── DatabaseUnavailable  the database cannot be reached now; retry later
        ├── MigrationError       the schema could not be brought up to date
        └── SchemaMissing        the database has no (or an older) schema: run lomsong db migrate
"""

from __future__ import annotations

__all__ = [
    "CollectorError",
    "DatabaseUnavailable",
    "EmbeddedDatabaseError",
    "IdConflict",
    "MigrationError",
    "SchemaMissing",
    "SettingsError",
    "StorageError",
]


class CollectorError(Exception):
    """Base of every error the collector raises on purpose."""


class SettingsError(CollectorError):
    """A setting is missing or unsafe."""


class IdConflict(CollectorError):
    """Ids of a batch already belong to another probe; nothing from the batch was stored.

    `owners` maps each such id to the probe that stored it first.
    """

    def __init__(self, owners: dict[str, str]) -> None:
        super().__init__(f"{len(owners)} id(s) already stored by another probe")
        self.owners = owners


class EmbeddedDatabaseError(CollectorError):
    """The embedded PostgreSQL server could not be started or stopped."""


class StorageError(CollectorError):
    """A database operation failed."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached; the caller should retry later."""


class MigrationError(StorageError):
    """Migrations could not be applied or the schema is ahead of this code."""


class SchemaMissing(StorageError):
    """The database lacks the schema (or part of it); ``lomsong db migrate`` brings it."""
