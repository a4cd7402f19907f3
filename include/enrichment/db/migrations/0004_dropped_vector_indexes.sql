-- Index versions dropped after a blue/green switch: a worker still configured with such a
-- model must fail loudly instead of silently starting a fresh version nobody queries.
CREATE TABLE {schema}.dropped_vector_indexes (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    model_id   text NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
