-- Uploads go in batches: a dataset is hidden until its last item is in (complete = FALSE), and
-- touched_at says an upload is still under way (a leftover of a crash is not touched).
ALTER TABLE datasets ADD COLUMN complete BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE datasets ADD COLUMN touched_at TEXT;
