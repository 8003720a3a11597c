-- Accounts (who graded), automatic checks per answer, grading queues, grades and pairwise votes.

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    role                 TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE checks (
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    custom_id     TEXT NOT NULL,
    json_form     TEXT,
    schema_valid  INTEGER,
    schema_errors TEXT NOT NULL DEFAULT '[]',
    handback      INTEGER NOT NULL,
    truncated     INTEGER NOT NULL,
    recommendation TEXT,
    fields        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, custom_id)
);
CREATE INDEX checks_by_recommendation ON checks(run_id, recommendation);

CREATE TABLE queues (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    blind       INTEGER NOT NULL DEFAULT 1,
    dataset_id  INTEGER REFERENCES datasets(id),
    sample_size INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    created_by  INTEGER REFERENCES users(id),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE queue_runs (
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, run_id)
);

-- `id` is an opaque random token: nothing in it (or in a URL that carries it) tells the model.
CREATE TABLE queue_items (
    id        TEXT PRIMARY KEY,
    queue_id  INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    run_b     INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    swap      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (queue_id, position)
);

CREATE TABLE grades (
    item_id    TEXT NOT NULL REFERENCES queue_items(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    overall    INTEGER NOT NULL,
    fields     TEXT NOT NULL DEFAULT '{}',
    comment    TEXT NOT NULL DEFAULT '',
    gold       INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (item_id, user_id)
);

CREATE TABLE votes (
    item_id    TEXT NOT NULL REFERENCES queue_items(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    choice     TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (item_id, user_id)
);
