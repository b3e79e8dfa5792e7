-- TimescaleDB community licence: the continuous aggregate cell_hourly is rebuilt grouped by
-- source too, with the same name and columns as core/013's view (source after kind). Its
-- materialisation is refilled by the policy (all of history, as tsl/003); until then real-time
-- aggregation answers from the raw rows, so queries give the same answers meanwhile.
DROP MATERIALIZED VIEW cell_hourly;
CREATE MATERIALIZED VIEW cell_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', time)                  AS bucket,
    h3_r10,
    carrier,
    access,
    kind,
    source,
    count(*)                                              AS tests,
    count(*) FILTER (WHERE error_kind IS NOT NULL)        AS failed,
    count(download_mbps)                                  AS down_n,
    sum(download_mbps)                                    AS down_sum,
    min(download_mbps)                                    AS down_min,
    max(download_mbps)                                    AS down_max,
    count(*) FILTER (WHERE download_mbps < 10)            AS down_below_10,
    count(*) FILTER (WHERE download_mbps < 30)            AS down_below_30,
    count(*) FILTER (WHERE download_mbps < 40)            AS down_below_40,
    count(*) FILTER (WHERE download_mbps < 50)            AS down_below_50,
    count(*) FILTER (WHERE download_mbps < 100)           AS down_below_100,
    count(upload_mbps)                                    AS up_n,
    sum(upload_mbps)                                      AS up_sum,
    count(rtt_ms)                                         AS rtt_n,
    sum(rtt_ms)                                           AS rtt_sum,
    count(rsrp_dbm)                                       AS rsrp_n,
    sum(rsrp_dbm)                                         AS rsrp_sum,
    count(sinr_db)                                        AS sinr_n,
    sum(sinr_db)                                          AS sinr_sum
FROM measurements
WHERE h3_r10 IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
WITH NO DATA;
SELECT add_continuous_aggregate_policy('cell_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes');
