-- Asks to carriers followed as cases (issue 16, items 4 and 5). Plain SQL, the same on every tier.
-- Until wards are first-class records a case names its ward by the official 2025 code (5 digits).

-- Carrier accounts (one organisation per carrier, several users) and a ward officer's ward.
-- The role list is a superset of the wards work's roles, so either migration may run first.
ALTER TABLE dashboard_users DROP CONSTRAINT IF EXISTS dashboard_users_role_check;
ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_role_check CHECK (
    role IN ('admin', 'officer', 'carrier', 'ward_officer', 'city_officer', 'city_admin'));
ALTER TABLE dashboard_users ADD COLUMN IF NOT EXISTS ward_code text
    CHECK (ward_code ~ '^[0-9]{5}$');
ALTER TABLE dashboard_users ADD COLUMN IF NOT EXISTS carrier text
    CHECK (carrier IN ('viettel', 'vnpt', 'mobifone'));
ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_carrier_account
    CHECK ((role = 'carrier') = (carrier IS NOT NULL));

CREATE TABLE cases (
    id                bigserial        PRIMARY KEY,
    ward_code         text             NOT NULL CHECK (ward_code ~ '^[0-9]{5}$'),
    carrier           text             NOT NULL CHECK (carrier IN ('viettel', 'vnpt', 'mobifone')),
    access            text             NOT NULL CHECK (access IN ('4g', '5g_nsa', '5g_sa')),
    title             text             NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body              text             NOT NULL DEFAULT '' CHECK (length(body) <= 5000),
    site_id           text             CHECK (length(site_id) BETWEEN 1 AND 64),
    lat               double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon               double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_m          double precision NOT NULL DEFAULT 150 CHECK (radius_m BETWEEN 10 AND 2000),
    state             text             NOT NULL DEFAULT 'draft' CHECK (state IN (
        'draft', 'sent', 'acknowledged', 'planned', 'done', 'verified', 'reopened', 'closed')),
    sent_on           date,
    document_no       text             CHECK (length(document_no) BETWEEN 1 AND 100),
    reply_due_on      date,
    action            text             CHECK (length(action) <= 2000),
    carrier_site_code text             CHECK (length(carrier_site_code) <= 100),
    promised_on       date,
    done_at           timestamptz,
    created_by        text             NOT NULL,
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    CHECK (state = 'draft' OR (sent_on IS NOT NULL AND document_no IS NOT NULL)),
    CHECK (state NOT IN ('done', 'verified') OR done_at IS NOT NULL)
);
CREATE INDEX cases_ward ON cases (ward_code, state);
CREATE INDEX cases_carrier ON cases (carrier, state);

-- Every change: a transition (from -> to), a reply, a new date or an attached file; never updated.
CREATE TABLE case_events (
    id         bigserial   PRIMARY KEY,
    case_id    bigint      NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('transition', 'reply', 'attachment', 'retest')),
    from_state text,
    to_state   text,
    note       text        NOT NULL DEFAULT '' CHECK (length(note) <= 2000)
);
CREATE INDEX case_events_case ON case_events (case_id, at);

-- Files kept in the database (no path on disk a name could steer), checked by their magic bytes.
CREATE TABLE case_files (
    id          bigserial   PRIMARY KEY,
    case_id     bigint      NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    filename    text        NOT NULL CHECK (length(filename) BETWEEN 1 AND 120),
    media_type  text        NOT NULL CHECK (media_type IN ('application/pdf', 'image/png',
                                                          'image/jpeg')),
    size_bytes  integer     NOT NULL CHECK (size_bytes BETWEEN 1 AND 5242880),
    sha256      bytea       NOT NULL,
    content     bytea       NOT NULL,
    uploaded_by text        NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_files_case ON case_files (case_id);

-- The re-test planned when a case is done, and each judgement of it.
CREATE TABLE case_retests (
    case_id     bigint      PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    planned_at  timestamptz NOT NULL DEFAULT now(),
    after_time  timestamptz NOT NULL,
    min_samples integer     NOT NULL CHECK (min_samples >= 1),
    min_slots   integer     NOT NULL CHECK (min_slots >= 1),
    slot_hours  integer     NOT NULL CHECK (slot_hours >= 1),
    probes      text[]      NOT NULL DEFAULT '{}',
    route_gpx   text        NOT NULL
);

CREATE TABLE case_verdicts (
    id         bigserial   PRIMARY KEY,
    case_id    bigint      NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    judged_at  timestamptz NOT NULL DEFAULT now(),
    judged_by  text        NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('met', 'not_met', 'not_enough_data')),
    comparison jsonb       NOT NULL
);
CREATE INDEX case_verdicts_case ON case_verdicts (case_id, judged_at);
