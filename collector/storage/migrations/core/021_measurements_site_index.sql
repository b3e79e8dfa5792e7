-- The measurements behind a service point (the dashboard's drill-down): the tests its fixed probe
-- tagged with its site_id, found by index rather than by reading the whole period. Tests near it
-- are found through measurements_h3_time (the cells around the point), then by exact distance.
CREATE INDEX IF NOT EXISTS measurements_site_time ON measurements (site_id, time)
    WHERE site_id IS NOT NULL;
