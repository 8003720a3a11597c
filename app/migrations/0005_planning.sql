-- Model registry, pending tests, managed vLLM launches.

CREATE TABLE models (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    arch       TEXT NOT NULL,
    quant      TEXT NOT NULL,
    source     TEXT NOT NULL,
    weights_gb REAL,
    builtin    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE planned_tests (
    id          INTEGER PRIMARY KEY,
    position    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    model_id    INTEGER REFERENCES models(id) ON DELETE SET NULL,
    endpoint_id INTEGER REFERENCES endpoints(id) ON DELETE SET NULL,
    dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    serve_model TEXT NOT NULL,
    requests    INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    expected    TEXT NOT NULL DEFAULT '',
    plan        TEXT,
    status      TEXT NOT NULL DEFAULT 'planned',
    run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

ALTER TABLE endpoints ADD COLUMN launch_template TEXT;

CREATE TABLE launches (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    command     TEXT NOT NULL,
    settings    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    load_time_s REAL,
    log         TEXT NOT NULL DEFAULT '',
    measured    TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
