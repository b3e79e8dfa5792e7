-- TimescaleDB community licence: compress chunks older than 30 days (segment by the columns
-- queries filter on) and drop raw chunks older than 5 years (evidence for two planning cycles).
ALTER TABLE measurements SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'carrier, access',
    timescaledb.compress_orderby = 'time'
);
SELECT add_compression_policy('measurements', INTERVAL '30 days');
SELECT add_retention_policy('measurements', INTERVAL '5 years');
