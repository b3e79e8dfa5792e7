"""The wire record: strictness, units, UTC, bounded raw output, exported schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from lomsong.probe.record import (
    RAW_MAX_CHARS,
    Access,
    Carrier,
    ErrorKind,
    Kind,
    Measurement,
    PositionSource,
    bounded_raw,
    carrier_from_plmn,
)

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "probe" / "measurement-v1.schema.json"
T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def base(**kw: object) -> dict[str, object]:
    values: dict[str, object] = dict(probe_id="pi-01", measured_at=T0, kind=Kind.THROUGHPUT_DOWN,
                                     tool="iperf3", download_mbps=41.5)
    values.update(kw)
    return values


def test_exported_schema_is_current() -> None:
    """Regenerate with `lomsong schema > probe/measurement-v1.schema.json` after a change."""
    assert json.loads(SCHEMA_FILE.read_text("utf-8")) == Measurement.json_schema()


def test_json_round_trip_and_utc_normalisation() -> None:
    hanoi = timezone(timedelta(hours=7))
    m = Measurement(**base(measured_at=datetime(2026, 11, 2, 10, 0, tzinfo=hanoi)))
    assert m.measured_at == T0 and m.measured_at.tzinfo == UTC
    again = Measurement.model_validate_json(m.model_dump_json())
    assert again == m


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        Measurement(**base(measured_at=datetime(2026, 11, 2, 3, 0)))


def test_strict_json_refuses_strings_for_numbers_and_nan() -> None:
    good = json.loads(Measurement(**base()).model_dump_json())
    with pytest.raises(ValidationError, match="download_mbps"):
        Measurement.model_validate_json(json.dumps({**good, "download_mbps": "41.5"}))
    with pytest.raises(ValidationError, match="download_mbps"):
        Measurement.model_validate_json(json.dumps({**good, "download_mbps": float("nan")}))
    with pytest.raises(ValidationError, match="schema_version"):
        Measurement.model_validate_json(json.dumps({**good, "schema_version": 2}))
    with pytest.raises(ValidationError, match="extra"):
        Measurement.model_validate_json(json.dumps({**good, "speed": 1}))


def test_a_success_needs_its_result_and_a_failure_is_evidence() -> None:
    with pytest.raises(ValidationError, match="needs download_mbps"):
        Measurement(**base(download_mbps=None))
    failed = Measurement(**base(download_mbps=None, error_kind=ErrorKind.NO_SERVICE,
                                error_message="modem not registered"))
    assert failed.error_kind is ErrorKind.NO_SERVICE


def test_position_rules() -> None:
    with pytest.raises(ValidationError, match="together"):
        Measurement(**base(lat=21.0))
    with pytest.raises(ValidationError, match="position_source"):
        Measurement(**base(lat=21.0, lon=105.8))
    with pytest.raises(ValidationError, match="lat"):
        Measurement(**base(lat=121.0, lon=105.8, position_source=PositionSource.GPS))


def test_raw_output_is_bounded() -> None:
    text = "a" * 100 + "b" * (RAW_MAX_CHARS * 2) + "z" * 100
    cut = bounded_raw(text)
    assert cut is not None and len(cut) == RAW_MAX_CHARS
    assert cut.startswith("a" * 100) and cut.endswith("z" * 100) and "truncated" in cut
    assert bounded_raw("short") == "short"
    with pytest.raises(ValidationError, match="raw"):
        Measurement(**base(raw=text))


@pytest.mark.parametrize(("mcc", "mnc", "carrier"), [
    ("452", "01", Carrier.MOBIFONE), ("452", "02", Carrier.VNPT), ("452", "04", Carrier.VIETTEL),
    ("452", "4", Carrier.VIETTEL), ("452", "05", Carrier.VIETNAMOBILE), ("452", "99", Carrier.UNKNOWN),
    ("262", "01", Carrier.OTHER),
])
def test_carrier_from_plmn(mcc: str, mnc: str, carrier: Carrier) -> None:
    assert carrier_from_plmn(mcc, mnc) is carrier


def test_enum_values_are_stable_wire_strings() -> None:
    assert Access.LTE.value == "4g" and Access.NR_NSA.value == "5g_nsa"
    assert Carrier.VNPT.value == "vnpt"
