-- Data that must not leave the building, and money that must not run away.
--
-- A dataset marked internal only is never sent to a hosted endpoint (the launch and the worker
-- refuse it). The demo's candidate profiles stand for personal data: built-in datasets start
-- internal only.
ALTER TABLE datasets ADD COLUMN internal_only INTEGER NOT NULL DEFAULT 0;
UPDATE datasets SET internal_only = 1 WHERE builtin = 1;

-- An endpoint's spend cap, in US dollars per calendar month (UTC); NULL: no cap.
ALTER TABLE endpoints ADD COLUMN spend_cap_usd REAL;

-- What each run spent on its endpoint, counted by the worker from the usage of each finished
-- request at the endpoint's price sheet. Kept when the run is deleted (the money was spent):
-- `run_id` then becomes NULL. `month` is when the run started ('YYYY-MM', UTC).
CREATE TABLE run_spend (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER UNIQUE REFERENCES runs(id) ON DELETE SET NULL,
    endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    month       TEXT NOT NULL,
    usd         REAL NOT NULL DEFAULT 0,
    requests    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX run_spend_by_endpoint ON run_spend(endpoint_id, month);

-- Token estimates of a dataset (for the cost preview), computed once when first asked for:
-- datasets do not change once stored.
CREATE TABLE dataset_tokens (
    dataset_id    INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    items         INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,   -- estimated: bytes / 4 + 4 per message
    max_tokens    INTEGER NOT NULL,   -- the items' own max_tokens, summed
    without_max   INTEGER NOT NULL    -- items with no max_tokens of their own
);
