-- Issue 13: a run's live progress through the database, so that a page served by one Bakeoff
-- process follows a run measured by another (another `serve`, `bakeoff run`, `bakeoff worker`).
-- One row per run: the measuring process's last domain::progress::Progress as JSON, written at
-- most about once a second while the run goes and when it ends. `seq` grows by one with every
-- write of the row, so a reader tells a newer one without comparing clocks.
CREATE TABLE run_progress (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    progress TEXT NOT NULL,
    seq BIGINT NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
