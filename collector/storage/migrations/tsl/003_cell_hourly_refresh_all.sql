-- TimescaleDB community licence: refresh cell_hourly over all of history, not just the last 30
-- days. With 002's start_offset of 30 days, hours older than that were never materialised, and
-- once a refresh had moved the watermark past them they vanished from cell_hourly (real-time
-- aggregation only reads raw rows newer than the watermark): a backlog a probe uploads late,
-- an import of older files, or data already stored when this tier was first enabled. A refresh
-- only recomputes buckets invalidated since the last one, so an open start costs little.
SELECT remove_continuous_aggregate_policy('cell_hourly');
SELECT add_continuous_aggregate_policy('cell_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes');
