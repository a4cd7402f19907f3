-- Data quality: the checks of each run, the numbers its report shows, tag distributions
-- (the baseline of the next run's drift check), and a golden sample loaded from CSV.
CREATE TABLE {schema}.quality_runs (
    run_id     text PRIMARY KEY REFERENCES {schema}.runs (run_id) ON DELETE CASCADE,
    checked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    passed     boolean NOT NULL,
    checks     integer NOT NULL,
    failed     integer NOT NULL,
    warnings   integer NOT NULL,
    seconds    real,
    metrics    jsonb NOT NULL DEFAULT '{{}}',
    report     jsonb NOT NULL DEFAULT '{{}}',
    data_docs  text
);

CREATE TABLE {schema}.quality_results (
    run_id         text NOT NULL REFERENCES {schema}.quality_runs (run_id) ON DELETE CASCADE,
    check_name     text NOT NULL,
    category       text NOT NULL,
    severity       text NOT NULL CHECK (severity IN ('error', 'warning')),
    outcome        text NOT NULL CHECK (outcome IN ('pass', 'fail', 'warn', 'skipped')),
    observed       double precision,
    observed_text  text,
    threshold_text text,
    detail         jsonb,
    position       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, check_name)
);

CREATE TABLE {schema}.tag_distributions (
    run_id    text NOT NULL REFERENCES {schema}.runs (run_id) ON DELETE CASCADE,
    attribute text NOT NULL,
    value     text NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (run_id, attribute, value)
);

CREATE TABLE {schema}.quality_golden (
    sku       text NOT NULL,
    attribute text NOT NULL,
    value     text NOT NULL,
    source    text NOT NULL,
    PRIMARY KEY (sku, attribute)
);
