-- A ward's streets (`lomsong wards streets`), drawn under the dashboard map's cells: one row per
-- ward holding a GeoJSON FeatureCollection of lines (WGS 84) with each street's `name`.
CREATE TABLE ward_streets (
    ward_code     text        PRIMARY KEY REFERENCES wards (code),
    streets_json  text        NOT NULL CHECK (length(streets_json) <= 20000000),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
