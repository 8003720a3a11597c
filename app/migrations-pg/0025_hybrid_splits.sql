-- The hybrid split of two finished runs, stored once (see the SQLite file).
ALTER TABLE runs ADD COLUMN checks_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE hybrid_splits (
    screen_id      BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    judge_id       BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    screen_version BIGINT NOT NULL,
    judge_version  BIGINT NOT NULL,
    counts         TEXT NOT NULL,
    PRIMARY KEY (screen_id, judge_id)
);

-- The same answer (request and run) in other grading queues: a reveal withholds it while another
-- open queue holds it, and a reviewer who saw it revealed is not given it again.
CREATE INDEX queue_items_by_answer ON queue_items(custom_id, run_id);
