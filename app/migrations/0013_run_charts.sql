-- A run's chart data (histogram bins, cumulative curves, throughput per bucket), computed once
-- from its records when it ends, so its page never reads every record again. JSON of
-- domain::series::RunCharts; `records` is how many records it was computed from (a resumed or
-- re-imported run with more records computes it afresh).
CREATE TABLE run_charts (
    run_id  INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    records INTEGER NOT NULL,
    data    TEXT NOT NULL
);

-- Counts over a run's checks, rolled up once its answers are checked (pages read these instead
-- of counting a run's checks again on every view).
CREATE TABLE check_counts (
    run_id         INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    answered       INTEGER NOT NULL,
    json_found     INTEGER NOT NULL,
    schema_checked INTEGER NOT NULL,
    schema_valid   INTEGER NOT NULL,
    handback       INTEGER NOT NULL,
    truncated      INTEGER NOT NULL,
    -- JSON [[recommendation or "(none)", count], ...]
    recommendations TEXT NOT NULL DEFAULT '[]'
);
