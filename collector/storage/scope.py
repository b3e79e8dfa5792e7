"""Which wards a caller may read and write: passed into every storage function on ward data.

A `Scope` is made once per request from the signed-in user or the API token
(`scope_of_user`, `scope_of_token`) and turned into a SQL condition by `Scope.where`, so the ward
filter is in the query itself and no page can forget it. The ward code ``None`` is the one ward
of a database made before wards were records (until ``lomsong wards adopt``): a scope on it sees
only unassigned rows, never another ward's. A carrier organisation's scope (`Scope.of_carrier`)
sees no ward's data, only that carrier's asks in every ward (`storage.cases`).

Example
-------
>>> s = Scope.ward("00316")
>>> s.sees("00316"), s.sees("00235"), Scope.all_wards().sees("00235")
(True, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from lomsong.collector.errors import StorageError

__all__ = ["SINGLE_WARD", "Scope", "ScopeError"]

class ScopeError(StorageError):
    """The scope does not allow this (another ward's data, or a write from a read-only scope)."""


@dataclass(frozen=True)
class Scope:
    """`ward_code` (or every ward when `city`), and whether writes are allowed; `carrier` for
    the account of a carrier organisation."""

    ward_code: str | None = None
    city: bool = False
    write: bool = False
    carrier: str | None = None

    @classmethod
    def ward(cls, code: str | None, *, write: bool = False) -> Scope:
        return cls(ward_code=code, city=False, write=write)

    @classmethod
    def city_wide(cls, *, write: bool = False) -> Scope:
        return cls(ward_code=None, city=True, write=write)

    @classmethod
    def of_carrier(cls, carrier: str | None, *, write: bool = False) -> Scope:
        """A carrier organisation: no ward's data (a ward no row belongs to), its own asks."""
        return cls(ward_code="", city=False, write=write, carrier=carrier or "-")

    @classmethod
    def all_wards(cls) -> Scope:
        """Every ward, read only."""
        return cls.city_wide()

    def sees(self, ward_code: str | None) -> bool:
        return self.city or ward_code == self.ward_code

    def narrowed(self, ward_code: str | None) -> Scope:
        """One ward of this scope (a city scope looking at one ward); `ScopeError` if outside."""
        if not self.sees(ward_code):
            raise ScopeError(f"ward {ward_code!r} is outside this account's ward")
        return Scope(ward_code=ward_code, city=False, write=self.write)

    def home(self) -> str | None:
        """The ward that rows written with this scope belong to."""
        if not self.write:
            raise ScopeError("this account may not change data")
        if self.city:
            raise ScopeError("choose a ward first: a city-wide scope writes to no ward")
        return self.ward_code

    def where(self, column: str, table: str | None = None) -> tuple[sql.Composable, list[Any]]:
        """A SQL condition (with its parameters, ``%s`` style) that keeps this scope's rows."""
        ident = sql.Identifier(table, column) if table else sql.Identifier(column)
        if self.city:
            return sql.SQL("TRUE"), []
        # `=` and `IS NULL`, not `IS NOT DISTINCT FROM`, which no index can serve (one ward of
        # 126 read through measurements_ward_time instead of every row of the period); one
        # parameter either way, so callers place it the same.
        if self.ward_code is None:
            return sql.SQL("({} IS NULL AND %s::text IS NULL)").format(ident), [None]
        return sql.SQL("{} = %s").format(ident), [self.ward_code]


# The scope of code written before wards were records: the single (unassigned) ward, writable.
SINGLE_WARD = Scope.ward(None, write=True)
