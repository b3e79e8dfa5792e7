-- cell_hourly is grouped by source too (probe, import, synthetic, browser), so that hourly
-- statistics can keep the volunteers' browser results apart, as the analysis does
-- (analysis/sources.py: they count only where the ward chooses). Same columns as 002 plus
-- `source` after `kind`. On a TimescaleDB community-licence database where tsl/002 already made
-- cell_hourly a continuous aggregate, this leaves it alone: tsl/013 rebuilds that one.
DO $$
DECLARE
    is_cagg boolean := false;
BEGIN
    IF to_regclass('timescaledb_information.continuous_aggregates') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates'
                ' WHERE view_name = ''cell_hourly'' AND view_schema = current_schema())'
            INTO is_cagg;
    END IF;
    IF NOT is_cagg THEN
        DROP VIEW cell_hourly;
        CREATE VIEW cell_hourly AS
        SELECT
            date_trunc('hour', time, 'UTC')                       AS bucket,
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
        GROUP BY 1, 2, 3, 4, 5, 6;
    END IF;
END
$$;
