-- Where each change-capture mode stopped (a snapshot, a WAL position, a time), per mapping.
CREATE TABLE IF NOT EXISTS {schema}.capture_positions (
    name       text PRIMARY KEY,
    mode       text NOT NULL,
    position   jsonb NOT NULL,
    run_id     text,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
