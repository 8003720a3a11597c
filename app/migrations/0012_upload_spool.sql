-- Uploads go in batches: a dataset is hidden until its last item is in (complete = 0), and
-- touched_at says an upload is still under way (a leftover of a crash is not touched).
ALTER TABLE datasets ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
ALTER TABLE datasets ADD COLUMN touched_at TEXT;
