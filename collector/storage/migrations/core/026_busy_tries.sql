-- Measurement.busy_tries: how many tries of a test spread over the city's iperf3 pool met a busy
-- server first. A nullable column without a default, as core/004_ca_bands: adding it rewrites no
-- rows, and TimescaleDB allows it on a hypertable with compressed chunks.
ALTER TABLE measurements ADD COLUMN IF NOT EXISTS busy_tries integer;

-- Older pooled records said it only in `raw`, whose last line the probe's pool wrote as
-- "lomsong-pool: served by HOST:PORT after N busy (...)" or
-- "lomsong-pool: every try met a busy server: N busy (...)" (bounded_raw keeps the tail, so the
-- line survives truncation). Those rows get N; every other row stays NULL (not a pooled test).
UPDATE measurements
SET busy_tries = substring(raw FROM
        'lomsong-pool: (?:served by \S+ after|every try met a busy server:) ([0-9]{1,4}) busy')::integer
WHERE busy_tries IS NULL
  AND tool = 'iperf3'
  AND raw LIKE '%lomsong-pool: %'
  AND raw ~ 'lomsong-pool: (?:served by \S+ after|every try met a busy server:) [0-9]{1,4} busy';
