"""Collector settings: one typed class, read from `LOMSONG_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from lomsong.maps.tiles import TileSource

__all__ = ["Settings", "default_data_dir"]

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "dev-secret-not-for-production"}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("lomsong", appauthor=False))


class Settings(BaseSettings):
    """Everything the collector needs to know, passed in (never read from globals in logic)."""

    model_config = SettingsConfigDict(env_prefix="LOMSONG_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset means the embedded PostgreSQL"
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: str = "dev-secret-not-for-production"
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    max_batch_records: int = Field(default=5_000, ge=1, le=5_000)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    future_tolerance_s: float = Field(default=300.0, ge=0)
    retry_after_s: int = Field(default=5, ge=1)
    # API rate limits (token buckets, in memory per collector process; 0 turns one off). Several
    # collector processes multiply them. Probes behind one carrier NAT share an IP: keep it roomy.
    rate_per_ip_per_s: float = Field(default=200.0, ge=0)
    rate_per_ip_burst: int = Field(default=1_000, ge=1)
    rate_per_token_per_s: float = Field(default=20.0, ge=0)
    rate_per_token_burst: int = Field(default=100, ge=1)
    migrate_on_start: bool = True
    # The ward's threshold override (a TOML holding only the keys it changes, as `lomsong analyze
    # --thresholds`): targets, peak hours and which sources count in the statistics, e.g.
    # `[sources] in_statistics = ["probe", "import", "synthetic", "browser"]` to count the phones'
    # results. Unset: analysis/thresholds.toml (browser results shown apart, not counted).
    thresholds_file: Path | None = None
    # Dashboard analyses (collector.dashboard.survey): after new data a page shows the last
    # analysis while `survey_workers` background threads make the new one, unless the last one
    # took under `survey_wait_below_s` (then the page waits for it); `survey_cache_entries`
    # (ward, period) pairs are kept in memory.
    survey_workers: int = Field(default=1, ge=1, le=8)
    survey_wait_below_s: float = Field(default=2.0, ge=0)
    survey_cache_entries: int = Field(default=4, ge=1, le=64)
    # Every analysis made is kept in the database (collector.storage.snapshots), so a restarted
    # collector, or a (ward, period) no longer in memory, shows the last one at once while the
    # current one is computed. `survey_warm_interval_s`: `lomsong serve` analyses the default
    # period (the last 30 days) of a one-ward deployment in the background at start and then at
    # this interval when its data changed, so the officer's first page finds it made (wards of
    # a city deployment get theirs from the city roll-ups); 0 turns it off.
    survey_keep: bool = True
    # A page waits at most this long for the first analysis of a (ward, period) nobody has
    # asked for yet (a period chosen by hand); then it says the analysis is being made and
    # reloads itself until it is there (0: the page waits for the analysis).
    survey_first_wait_s: float = Field(default=1.5, ge=0)
    survey_warm_interval_s: float = Field(default=300.0, ge=0)
    # Alerts (collector.alerts): evaluated every `alert_interval_s` by `lomsong serve` (0: only by
    # `lomsong alerts run`), e-mailed through this SMTP server.
    alert_interval_s: float = Field(default=300.0, ge=0)
    # City roll-ups (collector.city_rollup): the due wards are recomputed every
    # `city_refresh_interval_s` by `lomsong serve` and when the city page finds one out of date
    # (0: only by `lomsong city refresh`).
    city_refresh_interval_s: float = Field(default=300.0, ge=0)
    alert_quiet_s: float = Field(default=3_600.0, ge=0)
    alert_below_runs: int = Field(default=5, ge=1, le=100)
    alert_silent_h: float = Field(default=6.0, gt=0)
    alert_backlog: int = Field(default=1_000, ge=1)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "lomsong@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    # The volunteers' phone page (collector/phone): request buckets per client address and per
    # enrolment link (a campaign link is shared by many phones), and the largest payload of one
    # download or upload request.
    phone_rate_per_address_per_s: float = Field(default=10.0, gt=0)
    phone_rate_per_address_burst: int = Field(default=300, ge=1)
    phone_rate_per_link_per_s: float = Field(default=50.0, gt=0)
    phone_rate_per_link_burst: int = Field(default=2_000, ge=1)
    phone_payload_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # A browser result faster than this is flagged (not rejected): the highest rate this
    # collector can serve, the lower of its network port and what benchmarks/phone_payload.py
    # measures on the server (default: a 1 Gbit/s port).
    phone_max_serve_mbps: float = Field(default=1_000.0, gt=0)
    # Walk mode: seconds between the end of one test and the start of the next.
    phone_walk_interval_s: float = Field(default=20.0, ge=0, le=3600)
    # A separate test server for the payloads (another lomsong collector with the same secret
    # key, e.g. nearer the phones); unset: this collector. That server lists this collector's
    # origin in its LOMSONG_PHONE_CORS_ORIGINS (JSON list), so the page may read its answers.
    phone_test_server_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+$")
    phone_cors_origins: list[str] = Field(default_factory=list)
    # Password checks (argon2id, 64 MiB each) running at once; more wait `hash_wait_s`, then 503.
    max_concurrent_hashes: int = Field(default=2, ge=1, le=64)
    hash_wait_s: float = Field(default=3.0, gt=0, le=60)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes (comma-separated
    # addresses or networks, "*" for any). Sign-in lockout and rate limits key on the address
    # this gives; behind a proxy on another host, name it here.
    trusted_proxies: str = Field(default="127.0.0.1", max_length=2000)

    # An optional raster basemap under the dashboard's map: an XYZ tile server
    # ("https://host/{z}/{x}/{y}.png") and the attribution its licence requires (shown on the
    # map). The collector fetches each tile once and keeps it under `basemap_cache_dir` (default:
    # data_dir/tiles); browsers only ever ask the collector. Unset: no basemap, nothing leaves
    # the machine and the map works offline.
    basemap_url: str | None = Field(default=None, max_length=500)
    basemap_attribution: str = Field(default="", max_length=200)
    basemap_cache_dir: Path | None = None

    @model_validator(mode="after")
    def _basemap_is_usable(self) -> Settings:
        if self.basemap_url is not None:
            from lomsong.maps.tiles import TileError, TileSource

            try:
                TileSource(self.basemap_url, self.basemap_attribution, self.data_dir)
            except TileError as exc:
                raise ValueError(f"LOMSONG_BASEMAP_URL / LOMSONG_BASEMAP_ATTRIBUTION: {exc}") \
                    from exc
        return self

    def basemap(self) -> TileSource | None:
        """The configured tile server with its disk cache, or None (no basemap)."""
        if self.basemap_url is None:
            return None
        from lomsong.maps.tiles import TileSource

        return TileSource(self.basemap_url, self.basemap_attribution,
                          self.basemap_cache_dir or self.data_dir / "tiles")

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_prod(self) -> Settings:
        if self.env == "prod":
            if self.secret_key.strip().lower() in _PLACEHOLDERS or len(self.secret_key) < 32:
                raise ValueError(
                    "LOMSONG_SECRET_KEY must be set to a random value of 32+ characters in prod"
                )
            if self.database_url is None:
                raise ValueError("LOMSONG_DATABASE_URL must be set in prod")
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("LOMSONG_POOL_MIN_SIZE must not exceed LOMSONG_POOL_MAX_SIZE")
        return self
