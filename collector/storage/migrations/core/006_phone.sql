-- The volunteers' phone page: enrolment links (one per campaign or service point) and what the
-- collector noted about each browser record (which link sent it, from which phone, and the
-- plausibility flags it raised; flags never reject a record). No personal data: the device is a
-- random id made by the page, never an address.

CREATE TABLE enrolments (
    id         bigserial   PRIMARY KEY,
    ward       text        NOT NULL CHECK (length(ward) BETWEEN 1 AND 200),
    site_id    text        CHECK (site_id IS NULL OR length(site_id) BETWEEN 1 AND 64),
    label      text        NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE TABLE browser_records (
    measurement_id uuid        PRIMARY KEY,
    enrolment_id   bigint      NOT NULL REFERENCES enrolments (id),
    device         text        NOT NULL CHECK (length(device) BETWEEN 1 AND 64),
    received_at    timestamptz NOT NULL,
    flags          text[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX browser_records_device_time ON browser_records (device, received_at);
