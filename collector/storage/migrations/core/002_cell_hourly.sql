-- Hourly statistics per H3 cell, carrier, access and kind, computed at query time.
-- On TimescaleDB with the community licence the tsl/ migrations replace this view by a
-- continuous aggregate with the same name and columns, so queries are the same on every tier.
-- The speed bins are cumulative counts below each edge; every threshold in
-- analysis/thresholds.toml (30, 40, 50, 100 Mbit/s) is an edge, so shares below a threshold
-- can be computed from aggregates alone. Failed tests count in `failed`, not in the bins.
CREATE VIEW cell_hourly AS
SELECT
    date_trunc('hour', time, 'UTC')                       AS bucket,
    h3_r10,
    carrier,
    access,
    kind,
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
GROUP BY 1, 2, 3, 4, 5;
