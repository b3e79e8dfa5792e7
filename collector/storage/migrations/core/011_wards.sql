-- Many wards on one collector (issue 16): a ward is a record with its official 2025 code, and
-- the rows of ward data carry the code of the ward they belong to. Rows with no ward code belong
-- to the one ward of a database made before this migration, until `lomsong wards adopt CODE`
-- gives them that ward's code (nothing is moved or lost; see collector/storage/wards.py).

CREATE TABLE wards (
    code            text        PRIMARY KEY CHECK (code ~ '^[0-9]{5}$'),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    province_code   text        NOT NULL CHECK (province_code ~ '^[0-9]{2}$'),
    province_name   text        NOT NULL CHECK (length(province_name) BETWEEN 1 AND 200),
    boundary_json   text,                       -- GeoJSON (WGS 84), validated by the caller
    thresholds_toml text,                       -- the ward's override of the thresholds file (TOML)
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE service_points ADD COLUMN ward_code text REFERENCES wards (code);
CREATE INDEX service_points_ward ON service_points (ward_code);

ALTER TABLE api_tokens ADD COLUMN ward_code text REFERENCES wards (code);

-- core/011_cases (which runs first) added ward_code, carrier (with its carrier-account check)
-- and the role list; the ward now must be a ward record.
ALTER TABLE dashboard_users ADD COLUMN IF NOT EXISTS ward_code text;
ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_ward_fk
    FOREIGN KEY (ward_code) REFERENCES wards (code);
ALTER TABLE dashboard_users DROP CONSTRAINT IF EXISTS dashboard_users_role_check;
-- admin and officer (ward_officer: the same) are the ward's administrator and officer, of their
-- ward only; the city's roles see every ward; a carrier account belongs to one carrier.
ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_role_check CHECK (
    role IN ('admin', 'officer', 'ward_officer', 'city_officer', 'city_admin', 'carrier'));
ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_city_roles_no_ward
    CHECK (role IN ('admin', 'officer', 'ward_officer') OR ward_code IS NULL);

-- A measurement belongs to the ward of the probe token that sent it (stamped at ingest). No
-- foreign key: the ingest path stays a plain COPY, and ward codes are never deleted.
ALTER TABLE measurements ADD COLUMN ward_code text;
CREATE INDEX measurements_ward_time ON measurements (ward_code, time);

-- The phone page's enrolment links (core/005_phone): a link's records belong to its ward.
ALTER TABLE enrolments ADD COLUMN ward_code text REFERENCES wards (code);

-- A ward's residential groups (tổ dân phố / thôn): the places the plans' indicator counts.
CREATE TABLE residential_groups (
    ward_code     text        NOT NULL REFERENCES wards (code),
    group_id      text        NOT NULL CHECK (length(group_id) BETWEEN 1 AND 64),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    geometry_json text        NOT NULL,              -- GeoJSON geometry (WGS 84)
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward_code, group_id)
);
