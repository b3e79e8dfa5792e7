-- A done case's re-test asks the fixed probes near its place to test its carrier more often for a
-- while (issue 16, item 5): one row per case and probe, served to that probe alone
-- (GET /api/v1/probes/schedule), which applies it within its own cap on extra tests per day.
CREATE TABLE retest_requests (
    id                bigserial   PRIMARY KEY,
    case_id           bigint      NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    probe_id          text        NOT NULL CHECK (length(probe_id) BETWEEN 1 AND 64),
    -- the ward of the probe's token (NULL: the one ward of a database not yet adopted)
    ward_code         text,
    carrier           text        NOT NULL CHECK (carrier IN ('viettel', 'vnpt', 'mobifone')),
    access            text        NOT NULL CHECK (access IN ('4g', '5g_nsa', '5g_sa')),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    every_min         integer     NOT NULL CHECK (every_min BETWEEN 5 AND 240),
    max_extra_per_day integer     NOT NULL CHECK (max_extra_per_day BETWEEN 1 AND 288),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
-- one request per case and probe (a probe name may recur in another ward: its own probe)
CREATE UNIQUE INDEX retest_requests_case_probe
    ON retest_requests (case_id, probe_id, coalesce(ward_code, ''));
CREATE INDEX retest_requests_probe ON retest_requests (probe_id, ends_at);
