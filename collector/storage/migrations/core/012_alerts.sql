-- Alerts (issue 16, item 6): conditions found by the evaluator, per-user subscriptions, and what
-- was delivered to whom (so an alert is never sent twice). Plain SQL, the same on every tier.

-- A condition that holds now (resolved_at NULL) or held once. One open alert per (kind, key).
CREATE TABLE alerts (
    id          bigserial   PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('site_below_target', 'probe_silent',
                                                     'spool_backlog', 'case_overdue')),
    key         text        NOT NULL CHECK (length(key) BETWEEN 1 AND 300),
    ward_code   text,
    carrier     text,
    detail      text        NOT NULL CHECK (length(detail) <= 500),
    opened_at   timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE UNIQUE INDEX alerts_open ON alerts (kind, key) WHERE resolved_at IS NULL;

CREATE TABLE alert_subscriptions (
    id            bigserial   PRIMARY KEY,
    username      text        NOT NULL REFERENCES dashboard_users (username) ON DELETE CASCADE,
    channel       text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    target        text        NOT NULL CHECK (length(target) BETWEEN 3 AND 500),
    secret        text        CHECK (channel = 'email' OR length(secret) >= 32),
    kinds         text[]      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_sent_at  timestamptz,
    UNIQUE (username, channel, target)
);

-- One row per alert delivered on a subscription (the idempotency ledger).
CREATE TABLE alert_deliveries (
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    subscription_id bigint      NOT NULL REFERENCES alert_subscriptions (id) ON DELETE CASCADE,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, subscription_id)
);

-- The last tests of each service point per carrier and access, read by the alert evaluator.
CREATE INDEX measurements_site_recent ON measurements (site_id, carrier, access, time)
    WHERE site_id IS NOT NULL AND kind = 'throughput_down';
