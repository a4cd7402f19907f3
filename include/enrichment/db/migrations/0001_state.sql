-- Platform state: runs, watermarks, per-product content hashes, change sets, quarantine.
CREATE TABLE {schema}.runs (
    run_id       text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('incremental', 'backfill')),
    status       text NOT NULL CHECK (status IN ('detected', 'committed', 'failed')),
    lower_ts     timestamptz,
    upper_ts     timestamptz NOT NULL,
    params       jsonb NOT NULL DEFAULT '{{}}',
    shards       integer NOT NULL DEFAULT 0,
    counts       jsonb NOT NULL DEFAULT '{{}}',
    summary      jsonb,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    committed_at timestamptz
);

CREATE TABLE {schema}.watermarks (
    name        text PRIMARY KEY,
    ts          timestamptz NOT NULL,
    last_id     bigint NOT NULL,
    deletes_ts  timestamptz NOT NULL,
    run_id      text NOT NULL REFERENCES {schema}.runs (run_id),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- What the platform last processed for each SKU (updated only when a run commits).
CREATE TABLE {schema}.product_state (
    sku               text PRIMARY KEY,
    product_id        bigint,
    active            boolean NOT NULL,
    text_hash         text,
    image_hash        text,
    meta_hash         text,
    source_updated_at timestamptz,
    last_run_id       text,
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The durable change set of a run.
CREATE TABLE {schema}.run_items (
    run_id            text NOT NULL REFERENCES {schema}.runs (run_id) ON DELETE CASCADE,
    sku               text NOT NULL,
    product_id        bigint,
    change_class      text NOT NULL,
    shard             integer NOT NULL,
    active            boolean NOT NULL,
    text_hash         text,
    image_hash        text,
    meta_hash         text,
    source_updated_at timestamptz,
    PRIMARY KEY (run_id, sku)
);

-- Product documents of the PostgreSQL tag store: metadata kept current without models.
CREATE TABLE {schema}.product_docs (
    sku          text PRIMARY KEY,
    title        text,
    brand        text,
    category     text,
    price        numeric(12, 2),
    stock        integer,
    active       boolean NOT NULL,
    content_hash text,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE {schema}.tags (
    sku              text NOT NULL,
    attribute        text NOT NULL,
    value            text NOT NULL,
    confidence       real NOT NULL,
    sources          text[] NOT NULL,
    taxonomy_version text NOT NULL,
    model_id         text NOT NULL,
    content_hash     text NOT NULL,
    run_id           text,
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (sku, attribute, value)
);
CREATE INDEX tags_attribute_value ON {schema}.tags (attribute, value);

-- Vector indexes: one table per index version (see vectors.py), registered here.
CREATE TABLE {schema}.vector_indexes (
    name         text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('text', 'image')),
    model_id     text NOT NULL,
    prep_version text NOT NULL,
    dim          integer NOT NULL,
    state        text NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    activated_at timestamptz
);
CREATE UNIQUE INDEX vector_indexes_one_active ON {schema}.vector_indexes (kind) WHERE state = 'active';

CREATE TABLE {schema}.quarantine (
    sku          text NOT NULL,
    image_ref    text NOT NULL,
    reason       text NOT NULL,
    detail       text,
    content_hash text,
    run_id       text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (sku, image_ref)
);
