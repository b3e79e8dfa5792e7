-- City scale (issue 16, item 7): what the city page and PDF show per ward and carrier, kept as
-- stored roll-ups so that a page never rereads a ward's raw measurements. Plain tables, the same
-- on every tier (a ward's figures need its whole analysis: weak areas are clusters of cells, a
-- service point's verdict a statistical test, which no continuous aggregate can hold).
--
-- ward_rollup: one row per ward and kept period kind ('last30': the dashboard's default period,
-- the last 30 days; 'month': the current calendar month to date). `carriers` holds one object per
-- carrier with analysis/city.py's SUMMARY_COLUMNS; `data_version` the fingerprint the figures
-- were computed from (collector.storage.fleet.DataVersion).
CREATE TABLE ward_rollup (
    ward_code     text        NOT NULL REFERENCES wards (code) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('last30', 'month')),
    period_first  date        NOT NULL,
    period_last   date        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('dead_spot', 'weak', 'ok',
                                                         'insufficient_data')),
    measurements  bigint      NOT NULL CHECK (measurements >= 0),
    carriers      jsonb       NOT NULL,
    data_version  jsonb       NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    compute_ms    integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (ward_code, kind)
);

-- Wards whose roll-ups are out of date: set by ingest (measurements of the ward stored), by any
-- change to the ward's service points, boundary or thresholds (triggers below), cleared by the
-- refresh. `mark` changes on every new marking, so a refresh clears only the marking it read:
-- measurements stored while it computed leave the ward dirty.
CREATE SEQUENCE ward_rollup_mark;
CREATE TABLE ward_rollup_dirty (
    ward_code  text        PRIMARY KEY,
    mark       bigint      NOT NULL DEFAULT nextval('ward_rollup_mark'),
    since      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ward_rollup_mark(code text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ward_rollup_dirty (ward_code) SELECT code WHERE code IS NOT NULL
    ON CONFLICT (ward_code) DO UPDATE SET mark = EXCLUDED.mark;
$$;

CREATE FUNCTION service_points_rollup_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM ward_rollup_mark(OLD.ward_code);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM ward_rollup_mark(NEW.ward_code);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION wards_rollup_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ward_rollup_mark(NEW.code);
    RETURN NULL;
END
$$;

CREATE TRIGGER service_points_rollup_dirty AFTER INSERT OR UPDATE OR DELETE ON service_points
    FOR EACH ROW EXECUTE FUNCTION service_points_rollup_dirty();
CREATE TRIGGER wards_rollup_dirty AFTER UPDATE OF boundary_json, thresholds_toml ON wards
    FOR EACH ROW EXECUTE FUNCTION wards_rollup_dirty();
