-- Workers that run next to each GPU (issue 13): a `bakeoff worker` takes runs for the endpoints
-- it was started for only, and starts managed model servers only when allowed to. The Workers
-- page lists every worker seen in the last day with what it takes, its heartbeat and its runs.

ALTER TABLE workers ADD COLUMN name TEXT;                                  -- `bakeoff worker --name` (default: its host name); NULL for `serve`
ALTER TABLE workers ADD COLUMN endpoint_ids TEXT;                          -- JSON array of the endpoint ids it takes runs for; NULL: any endpoint
ALTER TABLE workers ADD COLUMN allow_launch BOOLEAN NOT NULL DEFAULT TRUE; -- it may start managed model servers (`serve` always may)
ALTER TABLE workers ADD COLUMN lease_s BIGINT NOT NULL DEFAULT 30;         -- its lease: silent for longer than this, it is not alive
ALTER TABLE workers ADD COLUMN stopped_at BIGINT;                          -- unix seconds of a clean stop (the row stays a day for the page); NULL: not stopped

-- The name of the worker that holds (or last held) a run's lease, beside its host and pid, for
-- the run page's "Measured by".
ALTER TABLE runs ADD COLUMN lease_worker TEXT;
