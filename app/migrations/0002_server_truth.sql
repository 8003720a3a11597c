-- The endpoint's own view while a run goes (scraped from /metrics about once a second), and the
-- client's CPU use, for the measurement-integrity checks.

CREATE TABLE server_metrics (
    run_id                  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t_ms                    INTEGER NOT NULL,
    running                 REAL,
    waiting                 REAL,
    kv_cache_usage          REAL,
    prompt_tokens_total     REAL,
    generation_tokens_total REAL,
    PRIMARY KEY (run_id, t_ms)
);

ALTER TABLE runs ADD COLUMN client_cpu_s REAL;
