-- The city's iperf3 servers, handed to the probes whose probe.toml says [pool] from_collector
-- (GET /api/v1/probes/servers), so a city adds a server without touching every Pi.
CREATE TABLE IF NOT EXISTS iperf3_servers (
    address  text PRIMARY KEY CHECK (length(address) BETWEEN 1 AND 255),
    capacity double precision NOT NULL DEFAULT 1 CHECK (capacity > 0 AND capacity <= 100),
    added_at timestamptz NOT NULL DEFAULT now()
);
