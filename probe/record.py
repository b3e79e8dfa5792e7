"""The one wire contract: a versioned, strict `Measurement`.

Everything that travels from a probe (or an importer) to the collector is a `Measurement`. The
collector imports this module; nothing else defines the shape of a measurement. It depends only on
the standard library and pydantic, so the probe on a Raspberry Pi stays light.

Rules the model enforces:

- units are in the field names (`download_mbps`, `rtt_ms`, `rsrp_dbm`, `bytes_used`);
- times are timezone-aware and normalised to UTC; a probe whose clock is not synchronised says so
  in `clock` instead of sending a silently wrong time;
- a failed test is a measurement too: it carries `error_kind` and `error_message`; a successful one
  carries the result its kind promises (a download test has `download_mbps`);
- raw tool output is kept for audit, bounded to `RAW_MAX_CHARS` (use `bounded_raw`).

Example
-------
>>> from datetime import UTC, datetime
>>> m = Measurement(probe_id="pi-ubnd-01", measured_at=datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
...                 kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
...                 access=Access.LTE, download_mbps=38.5)
>>> m.schema_version
1
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "RAW_MAX_CHARS",
    "SCHEMA_VERSION",
    "Access",
    "Carrier",
    "ClockState",
    "ErrorKind",
    "Kind",
    "Measurement",
    "PositionSource",
    "Setting",
    "Source",
    "bounded_raw",
    "carrier_from_plmn",
]

SCHEMA_VERSION: Final = 1
RAW_MAX_CHARS: Final = 65_536
MESSAGE_MAX_CHARS: Final = 2_000
_TRUNCATION_MARK: Final = "\n[... truncated by lomsong ...]\n"


class Kind(StrEnum):
    """What was measured."""

    THROUGHPUT_DOWN = "throughput_down"
    THROUGHPUT_UP = "throughput_up"
    LATENCY = "latency"
    UDP_QUALITY = "udp_quality"
    DNS = "dns"
    WEB_PAGE = "web_page"
    RADIO_SNAPSHOT = "radio_snapshot"


class Source(StrEnum):
    """Where the record came from. `synthetic` data is never mixed silently with real data."""

    PROBE = "probe"
    IMPORT = "import"
    SYNTHETIC = "synthetic"
    BROWSER = "browser"  # the collector's phone page (HTTP transfers, method in `raw`)


class Carrier(StrEnum):
    """Operators, named by company (VNPT runs the VinaPhone mobile network)."""

    VIETTEL = "viettel"
    VNPT = "vnpt"
    MOBIFONE = "mobifone"
    VIETNAMOBILE = "vietnamobile"
    GMOBILE = "gmobile"
    ITEL = "itel"
    FPT = "fpt"
    CMC = "cmc"
    SCTV = "sctv"
    OTHER = "other"
    UNKNOWN = "unknown"


class Access(StrEnum):
    """Access technology of the path under test."""

    NR_SA = "5g_sa"
    NR_NSA = "5g_nsa"
    LTE = "4g"
    UMTS = "3g"
    GSM = "2g"
    FIXED = "fixed"
    WIFI = "wifi"
    UNKNOWN = "unknown"


class ClockState(StrEnum):
    """How far the probe's wall clock can be trusted when it stamped `measured_at`."""

    SYNCED = "synced"
    UNSYNCED = "unsynced"
    UNKNOWN = "unknown"
    CORRECTED = "corrected"


class PositionSource(StrEnum):
    SITE = "site"
    GPS = "gps"
    GPX_MATCH = "gpx_match"
    IMPORT = "import"
    BROWSER = "browser"  # the browser's geolocation (GPS, Wi-Fi or cell; `accuracy_m` says how good)
    NONE = "none"


class Setting(StrEnum):
    INDOOR = "indoor"
    OUTDOOR = "outdoor"
    VEHICLE = "vehicle"
    UNKNOWN = "unknown"


class ErrorKind(StrEnum):
    """Why a test produced no result. In a dead spot the failure *is* the evidence."""

    NO_SERVICE = "no_service"
    ATTACH_FAILED = "attach_failed"
    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    DNS_FAILURE = "dns_failure"
    NETWORK_UNREACHABLE = "network_unreachable"
    SERVER_BUSY = "server_busy"
    TLS_FAILURE = "tls_failure"
    HTTP_ERROR = "http_error"
    INTERRUPTED = "interrupted"
    BUDGET_EXHAUSTED = "budget_exhausted"
    TOOL_MISSING = "tool_missing"
    TOOL_ERROR = "tool_error"
    PARSE_ERROR = "parse_error"
    MODEM_ERROR = "modem_error"


# Mobile network codes of Vietnam (MCC 452). Source: ITU-T E.212 list of MNCs.
_VN_MNC: Final[dict[str, Carrier]] = {
    "01": Carrier.MOBIFONE,
    "02": Carrier.VNPT,
    "04": Carrier.VIETTEL,
    "05": Carrier.VIETNAMOBILE,
    "07": Carrier.GMOBILE,
    "08": Carrier.ITEL,
    "09": Carrier.ITEL,
}


def carrier_from_plmn(mcc: str, mnc: str) -> Carrier:
    """Name the Vietnamese carrier for a PLMN; `OTHER` for foreign networks.

    >>> carrier_from_plmn("452", "04")
    <Carrier.VIETTEL: 'viettel'>
    >>> carrier_from_plmn("452", "4")
    <Carrier.VIETTEL: 'viettel'>
    """
    if mcc != "452":
        return Carrier.OTHER
    return _VN_MNC.get(mnc.zfill(2), Carrier.UNKNOWN)


def bounded_raw(text: str | None, limit: int = RAW_MAX_CHARS) -> str | None:
    """Keep head and tail of a tool's output within `limit` characters (the middle is cut)."""
    if text is None or len(text) <= limit:
        return text
    keep = limit - len(_TRUNCATION_MARK)
    head = keep * 3 // 4
    return text[:head] + _TRUNCATION_MARK + text[len(text) - (keep - head) :]


Mbps = Annotated[float, Field(ge=0, le=100_000)]
Millis = Annotated[float, Field(ge=0, le=600_000)]
# PostgreSQL text cannot hold NUL: every free-text field refuses it (checked in pydantic-core).
NO_NUL: Final = r"^[^\x00]*$"
ShortText = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]

# Which result a successful test of each kind must carry.
_REQUIRED_RESULT: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.THROUGHPUT_DOWN: ("download_mbps",),
    Kind.THROUGHPUT_UP: ("upload_mbps",),
    Kind.LATENCY: ("rtt_ms",),
    Kind.UDP_QUALITY: ("jitter_ms", "loss_pct"),
    Kind.DNS: ("dns_ms",),
    Kind.WEB_PAGE: ("ttfb_ms",),
    Kind.RADIO_SNAPSHOT: (),
}


class Measurement(BaseModel):
    """One test result (or failure) with its radio context and position. Schema version 1."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        use_enum_values=False,
        json_schema_extra={"$id": "https://lomsong.invalid/schema/measurement-v1.json"},
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Made on the probe; idempotency key")
    schema_version: Literal[1] = SCHEMA_VERSION
    probe_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    source: Source = Source.PROBE

    # Time
    measured_at: datetime = Field(description="Start of the test, UTC")
    clock: ClockState = ClockState.UNKNOWN
    boot_id: str | None = Field(
        default=None, max_length=64, description="Probe boot identifier", pattern=NO_NUL
    )
    monotonic_s: float | None = Field(default=None, ge=0, description="Probe monotonic clock")

    # What and against what
    kind: Kind
    tool: ShortText
    tool_version: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    server: str | None = Field(default=None, max_length=255, pattern=NO_NUL)
    busy_tries: int | None = Field(
        default=None,
        ge=0,
        le=1_000,
        description="A test spread over a pool of iperf3 servers: how many of its tries met a busy"
        " server before it was served (or, with error_kind server_busy, before it gave up); null"
        " for a test against one server, and in records made before the field existed",
    )
    interface: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    carrier: Carrier = Carrier.UNKNOWN
    access: Access = Access.UNKNOWN
    plan_down_mbps: Mbps | None = Field(default=None, description="Fixed line: subscribed speed")

    # Results
    download_mbps: Mbps | None = None
    upload_mbps: Mbps | None = None
    rtt_ms: Millis | None = None
    jitter_ms: Millis | None = None
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    dns_ms: Millis | None = None
    connect_ms: Millis | None = None
    tls_ms: Millis | None = None
    ttfb_ms: Millis | None = None
    http_status: int | None = Field(default=None, ge=100, le=599)
    bytes_used: int | None = Field(default=None, ge=0, le=10**12)
    duration_s: float | None = Field(default=None, ge=0, le=86_400)

    # Radio (LTE or the serving cell; `nr_*` for the 5G leg of NSA or for SA)
    rsrp_dbm: float | None = Field(default=None, ge=-160, le=-20)
    rsrq_db: float | None = Field(default=None, ge=-40, le=10)
    sinr_db: float | None = Field(default=None, ge=-30, le=60)
    rssi_dbm: float | None = Field(default=None, ge=-130, le=0)
    cell_id: int | None = Field(default=None, ge=0, le=2**40)
    pci: int | None = Field(default=None, ge=0, le=1007)
    tac: int | None = Field(default=None, ge=0, le=2**24)
    earfcn: int | None = Field(default=None, ge=0, le=262_143)
    band: str | None = Field(default=None, max_length=16, pattern=NO_NUL)
    nr_rsrp_dbm: float | None = Field(default=None, ge=-160, le=-20)
    nr_rsrq_db: float | None = Field(default=None, ge=-45, le=20)
    nr_sinr_db: float | None = Field(default=None, ge=-30, le=60)
    nr_pci: int | None = Field(default=None, ge=0, le=1007)
    nr_arfcn: int | None = Field(default=None, ge=0, le=3_279_165)
    nr_band: str | None = Field(default=None, max_length=16, pattern=NO_NUL)
    ca_bands: str | None = Field(
        default=None,
        max_length=64,
        pattern=NO_NUL,
        description="Carrier aggregation: the bands of the component carriers the modem reported,"
        " primary first, joined with '+' (e.g. 'B3+B1', 'n41+n71', EN-DC 'B1+n41'); one band"
        " alone means no secondary carrier was reported, null means not reported",
    )
    mcc: str | None = Field(default=None, pattern=r"^\d{3}$")
    mnc: str | None = Field(default=None, pattern=r"^\d{2,3}$")

    # Position
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    position_source: PositionSource = PositionSource.NONE
    setting: Setting = Setting.UNKNOWN
    site_id: str | None = Field(default=None, max_length=64, pattern=NO_NUL)

    # Failure and audit
    error_kind: ErrorKind | None = None
    error_message: str | None = Field(default=None, max_length=MESSAGE_MAX_CHARS, pattern=NO_NUL)
    raw: str | None = Field(default=None, max_length=RAW_MAX_CHARS, pattern=NO_NUL)

    @field_validator("measured_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must be timezone-aware (UTC), e.g. 2026-11-02T03:00:00Z")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Measurement:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.lat is not None and self.position_source is PositionSource.NONE:
            raise ValueError("position_source must say where lat/lon came from")
        if self.error_kind is None:
            missing = [f for f in _REQUIRED_RESULT[self.kind] if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"a successful {self.kind.value} measurement needs {', '.join(missing)} "
                    "(or set error_kind for a failed test)"
                )
        if (self.mcc is None) != (self.mnc is None):
            raise ValueError("mcc and mnc must be given together")
        return self

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The exported JSON schema of the wire format (for other implementations)."""
        return cls.model_json_schema(mode="validation")
