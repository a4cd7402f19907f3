-- Run fencing: a run overtaken by a newer one is 'superseded'; an operator can mark a run
-- 'abandoned'. Neither may write to the stores or commit.
ALTER TABLE {schema}.runs DROP CONSTRAINT IF EXISTS runs_status_check;
ALTER TABLE {schema}.runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('detected', 'committed', 'failed', 'superseded', 'abandoned'));
ALTER TABLE {schema}.runs ADD COLUMN superseded_by text;
ALTER TABLE {schema}.runs ADD COLUMN ended_at timestamptz;
ALTER TABLE {schema}.runs ADD COLUMN end_reason text;
CREATE INDEX IF NOT EXISTS run_items_sku ON {schema}.run_items (sku);
