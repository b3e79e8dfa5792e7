"""The life of a case (an ask to a carrier): its states, who may move it where, who sees it.

::

    draft -> sent -> acknowledged -> planned -> done -> verified -> closed
                 \\________________/^   ^  \\         \\-> reopened -> planned | done
    draft -> closed (withdrawn)            planned -> planned (new promise)

`verified` and the automatic `reopened` come only from a re-test judgement (`judge_retest`); an
officer may also reopen a done case by hand. Who sees a case is the actor's `Scope`
(`storage.users.case_scope`), applied in the SQL of `storage.cases`: a carrier account sees only
its own carrier's cases once they were sent, in every ward; a ward's staff only their ward's; the
city's accounts every case, the city officer without changing any.

Example
-------
>>> officer = Actor.of("an", "officer", ward_code="00316", carrier=None)
>>> allowed_moves("draft", officer)
('sent', 'closed')
>>> can_see(officer, ward_code="00235", carrier="viettel", state="sent")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.users import case_scope

__all__ = ["CARRIERS", "JUDGED_MOVES", "STATES", "Actor", "CaseState", "MoveRefused",
           "allowed_moves", "can_see", "can_write", "check_move"]

CaseState = Literal["draft", "sent", "acknowledged", "planned", "done", "verified", "reopened",
                    "closed"]
STATES: tuple[CaseState, ...] = ("draft", "sent", "acknowledged", "planned", "done", "verified",
                                 "reopened", "closed")
CARRIERS = ("viettel", "vnpt", "mobifone")
_OFFICE = frozenset({"officer", "ward_officer", "admin", "city_admin"})
_CARRIER = frozenset({"carrier", "admin", "city_admin"})
# (from, to) -> who may make the move by hand. "verified" is only reached by a re-test judgement.
_MOVES: dict[tuple[str, str], frozenset[str]] = {
    ("draft", "sent"): _OFFICE,
    ("draft", "closed"): _OFFICE,
    ("sent", "acknowledged"): _CARRIER,
    ("sent", "planned"): _CARRIER,
    ("acknowledged", "planned"): _CARRIER,
    ("planned", "planned"): _CARRIER,
    ("planned", "done"): _CARRIER,
    ("reopened", "planned"): _CARRIER,
    ("reopened", "done"): _CARRIER,
    ("done", "reopened"): _OFFICE,
    ("verified", "closed"): _OFFICE,
}
# Moves a re-test judgement makes (its actor is the officer who asked for the judgement).
JUDGED_MOVES = {("done", "verified"), ("done", "reopened")}


class MoveRefused(ValueError):
    """The move is not allowed from this state or for this role; the message says which.

    `message` is the English message id of the catalog, `params` its fields (states as codes);
    `not_found` marks a case that does not exist or is outside the actor's scope.
    """

    def __init__(self, message: str, *, not_found: bool = False, **params: str) -> None:
        super().__init__(message.format(**params))
        self.message = message
        self.params = params
        self.not_found = not_found


@dataclass(frozen=True)
class Actor:
    """Who acts: a dashboard user's name, role and the cases' `Scope` of that user."""

    username: str
    role: str
    scope: Scope

    @classmethod
    def of(cls, username: str, role: str, ward_code: str | None, carrier: str | None) -> Actor:
        return cls(username, role, case_scope(role, ward_code, carrier))


def can_see(actor: Actor, *, ward_code: str, carrier: str, state: str) -> bool:
    """Whether `actor` may read a case of `ward_code` for `carrier` in `state` (the same rule
    as the SQL of `storage.cases`)."""
    if actor.scope.carrier is not None:
        return actor.scope.carrier == carrier and state != "draft"
    return actor.scope.sees(ward_code)


def can_write(actor: Actor, *, ward_code: str, carrier: str, state: str) -> bool:
    """Whether `actor` may change the case at all (city officers only read)."""
    return actor.scope.write and can_see(actor, ward_code=ward_code, carrier=carrier, state=state)


def allowed_moves(state: str, actor: Actor) -> tuple[str, ...]:
    """The states `actor` may move a case in `state` to, by hand."""
    return tuple(to for (frm, to), roles in _MOVES.items() if frm == state and actor.role in roles)


def check_move(state: str, to: str, actor: Actor) -> None:
    """`MoveRefused` unless `actor` may move a case from `state` to `to` by hand."""
    if to not in allowed_moves(state, actor):
        raise MoveRefused("state: {frm} -> {to} is not allowed for this account", frm=state,
                          to=to)
