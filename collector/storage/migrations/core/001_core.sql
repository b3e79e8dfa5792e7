-- Core schema: the same on every tier (plain PostgreSQL, TimescaleDB Apache, TimescaleDB TSL).

-- Tokens for probes (write as themselves) and readers (query API). Only a SHA-256 of the
-- token is stored; tokens are 256-bit random strings, so a fast hash is the right tool.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('probe', 'reader')),
    token_hash   bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (role, name) WHERE revoked_at IS NULL;

-- Idempotency ledger: one row per measurement id ever accepted. A hypertable cannot hold a
-- unique index without its time column, and a probe may resend a record whose stored time was
-- corrected, so uniqueness lives here and the ingest inserts ids first (ON CONFLICT DO NOTHING).
CREATE TABLE measurement_ids (
    id          uuid        PRIMARY KEY,
    received_at timestamptz NOT NULL
);

CREATE TABLE measurements (
    time            timestamptz      NOT NULL,  -- best UTC time: the probe's, or corrected
    id              uuid             NOT NULL,
    probe_id        text             NOT NULL,
    schema_version  smallint         NOT NULL,
    source          text             NOT NULL,
    probe_time      timestamptz      NOT NULL,  -- as the probe stamped it
    clock           text             NOT NULL,  -- synced | unsynced | unknown | corrected
    boot_id         text,
    monotonic_s     double precision,
    received_at     timestamptz      NOT NULL,
    kind            text             NOT NULL,
    tool            text             NOT NULL,
    tool_version    text,
    server          text,
    interface       text,
    carrier         text             NOT NULL,
    access          text             NOT NULL,
    plan_down_mbps  double precision,
    download_mbps   double precision,
    upload_mbps     double precision,
    rtt_ms          double precision,
    jitter_ms       double precision,
    loss_pct        double precision,
    dns_ms          double precision,
    connect_ms      double precision,
    tls_ms          double precision,
    ttfb_ms         double precision,
    http_status     smallint,
    bytes_used      bigint,
    duration_s      double precision,
    rsrp_dbm        double precision,
    rsrq_db         double precision,
    sinr_db         double precision,
    rssi_dbm        double precision,
    cell_id         bigint,
    pci             integer,
    tac             integer,
    earfcn          integer,
    band            text,
    nr_rsrp_dbm     double precision,
    nr_rsrq_db      double precision,
    nr_sinr_db      double precision,
    nr_pci          integer,
    nr_arfcn        integer,
    nr_band         text,
    mcc             text,
    mnc             text,
    lat             double precision,
    lon             double precision,
    accuracy_m      double precision,
    position_source text             NOT NULL,
    setting         text             NOT NULL,
    site_id         text,
    h3_r10          bigint,                      -- H3 cell (resolution 10) of lat/lon
    error_kind      text,
    error_message   text,
    raw             text
);
CREATE INDEX measurements_time_id ON measurements (time, id);
CREATE INDEX measurements_carrier_access_time ON measurements (carrier, access, time);
CREATE INDEX measurements_h3_time ON measurements (h3_r10, time) WHERE h3_r10 IS NOT NULL;
CREATE INDEX measurements_probe_time ON measurements (probe_id, time);
