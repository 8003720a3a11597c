-- Bakeoff's first schema: endpoints, datasets and their items, runs, and one row per request.
-- Times written by SQLite are UTC ISO-8601 text.

CREATE TABLE endpoints (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    base_url    TEXT NOT NULL UNIQUE,
    simulated   INTEGER NOT NULL DEFAULT 0,
    builtin     INTEGER NOT NULL DEFAULT 0,
    models_json TEXT NOT NULL DEFAULT '[]',
    checked_at  TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    description   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    builtin       INTEGER NOT NULL DEFAULT 0,
    answer_schema TEXT,
    rubric        TEXT,
    item_count    INTEGER NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE dataset_items (
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    custom_id  TEXT NOT NULL,
    url        TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (dataset_id, idx),
    UNIQUE (dataset_id, custom_id)
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    status           TEXT NOT NULL,
    endpoint_id      INTEGER REFERENCES endpoints(id),
    dataset_id       INTEGER REFERENCES datasets(id),
    model            TEXT NOT NULL,
    spec             TEXT NOT NULL,
    simulated        INTEGER NOT NULL DEFAULT 0,
    sweep_id         INTEGER,
    total_requests   INTEGER NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    resumed          INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    summary          TEXT,
    provenance       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    started_at       TEXT,
    finished_at      TEXT
);
CREATE INDEX runs_by_status ON runs(status, id);

CREATE TABLE request_records (
    run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,
    custom_id         TEXT NOT NULL,
    warmup            INTEGER NOT NULL,
    outcome           TEXT NOT NULL,
    http_status       INTEGER,
    error             TEXT,
    finish_reason     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    scheduled_us      INTEGER,
    sent_us           INTEGER NOT NULL,
    ttft_us           INTEGER,
    e2e_us            INTEGER NOT NULL,
    content_chunks    INTEGER NOT NULL,
    itl_us            BLOB NOT NULL,
    response          TEXT NOT NULL,
    PRIMARY KEY (run_id, custom_id)
);
CREATE INDEX records_by_run_idx ON request_records(run_id, idx);
