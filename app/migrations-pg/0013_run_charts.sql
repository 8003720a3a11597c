-- A run's chart data (histogram bins, cumulative curves, throughput per bucket), computed once
-- from its records when it ends, so its page never reads every record again. JSON of
-- domain::series::RunCharts; `records` is how many records it was computed from (a resumed or
-- re-imported run with more records computes it afresh).
CREATE TABLE run_charts (
    run_id  BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    records BIGINT NOT NULL,
    data    TEXT NOT NULL
);

-- Counts over a run's checks, rolled up once its answers are checked (pages read these instead
-- of counting a run's checks again on every view). Counts, not flags: BIGINT.
CREATE TABLE check_counts (
    run_id         BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    answered       BIGINT NOT NULL,
    json_found     BIGINT NOT NULL,
    schema_checked BIGINT NOT NULL,
    schema_valid   BIGINT NOT NULL,
    handback       BIGINT NOT NULL,
    truncated      BIGINT NOT NULL,
    -- JSON [[recommendation or "(none)", count], ...]
    recommendations TEXT NOT NULL DEFAULT '[]'
);
