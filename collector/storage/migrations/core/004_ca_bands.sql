-- Carrier aggregation (Measurement.ca_bands): the bands of the component carriers, primary first,
-- joined with '+' (e.g. 'B3+B1'). A nullable column without a default: adding it rewrites no
-- rows, and TimescaleDB allows it on a hypertable with compressed chunks.
ALTER TABLE measurements ADD COLUMN IF NOT EXISTS ca_bands text;
