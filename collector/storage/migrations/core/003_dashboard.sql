-- The officer's dashboard: users, service points, probe health, the ward's name and boundary.
-- Plain SQL, the same on every tier. Sessions are signed cookies (no table): a user's session
-- ends when the cookie expires, the user is disabled, or the password changes (session_epoch).

CREATE TABLE dashboard_users (
    id            bigserial   PRIMARY KEY,
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    password_hash text        NOT NULL,            -- argon2id, PHC string
    role          text        NOT NULL CHECK (role IN ('admin', 'officer')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    session_epoch integer     NOT NULL DEFAULT 0   -- bumped to end every session of the user
);

-- The ward's public service points (the places whose service the survey must prove).
CREATE TABLE service_points (
    site_id    text             PRIMARY KEY CHECK (length(site_id) BETWEEN 1 AND 64),
    name       text             NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    site_type  text             NOT NULL,
    address    text             NOT NULL DEFAULT '',
    lat        double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon        double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    created_at timestamptz      NOT NULL DEFAULT now(),
    updated_at timestamptz      NOT NULL DEFAULT now()
);

-- The last health report of each probe (one row per probe name, overwritten on each report).
CREATE TABLE probe_status (
    probe_name         text        PRIMARY KEY,
    queue_pending      bigint      NOT NULL CHECK (queue_pending >= 0),
    rejected           bigint      NOT NULL CHECK (rejected >= 0),
    dropped            bigint      NOT NULL CHECK (dropped >= 0),
    last_upload_at     timestamptz,
    budget_used_bytes  bigint      CHECK (budget_used_bytes >= 0),
    budget_limit_bytes bigint      CHECK (budget_limit_bytes >= 0),
    clock              text        NOT NULL,
    last_error         text,
    version            text,
    reported_at        timestamptz NOT NULL
);

-- The ward this collector serves: its name (report covers) and optional boundary (GeoJSON).
CREATE TABLE ward (
    id            smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    name          text        NOT NULL,
    boundary_json text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
