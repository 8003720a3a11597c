-- Price sheets: dated, sourced lists of prices; each row names the model it was listed for.

CREATE TABLE price_sheets (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    provider          TEXT NOT NULL,
    source            TEXT NOT NULL,
    dated             TEXT NOT NULL,
    default_model_key TEXT,
    builtin           INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE price_rows (
    id           INTEGER PRIMARY KEY,
    sheet_id     INTEGER NOT NULL REFERENCES price_sheets(id) ON DELETE CASCADE,
    model_key    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    input_per_m  REAL,
    output_per_m REAL,
    usd_per_hour REAL,
    self_hosted  TEXT,
    note         TEXT NOT NULL DEFAULT '',
    UNIQUE (sheet_id, model_key, kind)
);
