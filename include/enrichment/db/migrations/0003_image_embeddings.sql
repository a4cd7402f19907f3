-- CLIP image embeddings by image bytes and model: the image tower runs once per distinct
-- photo, shared by tagging and image vectors, across SKUs, shards and runs.
CREATE TABLE {schema}.image_embeddings (
    image_sha256 text NOT NULL,
    model_id     text NOT NULL,
    embedding    real[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (image_sha256, model_id)
);
