-- TimescaleDB (any licence): measurements become a hypertable with weekly chunks.
SELECT create_hypertable('measurements', by_range('time', INTERVAL '7 days'), migrate_data => true);
