-- The dashboard's last analysis of a (ward, period), kept across collector restarts (issue 13):
-- a collector that starts, or a page asking for a (ward, period) no longer in memory, shows the
-- stored analysis at once (saying when it was made) while a newer one is computed, instead of
-- making the officer wait for a whole analysis. Written by collector.dashboard.survey and by the
-- city roll-ups (collector.city_rollup), read by the dashboard; body is
-- collector.survey_snapshot's format (a zip of Parquet tables and a JSON manifest, no code).
--
-- ward_code '' is the single unassigned ward of a one-ward deployment. `fingerprint` names the
-- analysis code and settings that made it: a snapshot of other code or thresholds file is never
-- shown. `used_at` orders the pruning (collector.storage.snapshots keeps a few per ward).
CREATE TABLE survey_snapshots (
    ward_code     text             NOT NULL,
    start_utc     timestamptz      NOT NULL,
    end_utc       timestamptz      NOT NULL,
    fingerprint   text             NOT NULL,
    data_version  jsonb            NOT NULL,
    made_at       timestamptz      NOT NULL,
    took_s        double precision NOT NULL CHECK (took_s >= 0),
    body          bytea            NOT NULL,
    used_at       timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (ward_code, start_utc, end_utc, fingerprint)
);
-- Parquet is compressed already: keep it out of line without compressing it again.
ALTER TABLE survey_snapshots ALTER COLUMN body SET STORAGE EXTERNAL;
