-- The endpoint's own view while a run goes (scraped from /metrics about once a second), and the
-- client's CPU use, for the measurement-integrity checks.

CREATE TABLE server_metrics (
    run_id                  BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t_ms                    BIGINT NOT NULL,
    running                 DOUBLE PRECISION,
    waiting                 DOUBLE PRECISION,
    kv_cache_usage          DOUBLE PRECISION,
    prompt_tokens_total     DOUBLE PRECISION,
    generation_tokens_total DOUBLE PRECISION,
    PRIMARY KEY (run_id, t_ms)
);

ALTER TABLE runs ADD COLUMN client_cpu_s DOUBLE PRECISION;
