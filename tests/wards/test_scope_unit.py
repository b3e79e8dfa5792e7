"""`Scope`: what a ward, a city account and the default may see and change."""

from __future__ import annotations

import pytest

from lomsong.collector.storage.scope import SINGLE_WARD, Scope, ScopeError


def test_the_default_scope_is_one_ward_never_the_city() -> None:
    assert Scope() == Scope.ward(None)
    assert not Scope().city and not Scope().sees("00316")


def test_a_ward_sees_itself_only_and_writes_only_when_allowed() -> None:
    ward = Scope.ward("00316", write=True)
    assert ward.sees("00316") and not ward.sees("00235") and not ward.sees(None)
    assert ward.home() == "00316"
    with pytest.raises(ScopeError, match="outside this account's ward"):
        ward.narrowed("00235")
    with pytest.raises(ScopeError, match="may not change"):
        Scope.ward("00316").home()


def test_a_city_scope_reads_every_ward_and_writes_to_a_chosen_one() -> None:
    city = Scope.city_wide(write=True)
    assert city.sees("00235") and city.where("ward_code")[1] == []
    with pytest.raises(ScopeError, match="choose a ward first"):
        city.home()
    assert city.narrowed("10543").home() == "10543"
    assert Scope.all_wards().narrowed("10543").write is False
    assert SINGLE_WARD.home() is None
