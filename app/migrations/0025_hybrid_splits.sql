-- The hybrid split of two finished runs, stored once (session 12): counting it reads 100,000 key
-- lookups in each run's records and checks (a quarter to half a second per report or costs
-- page at 100,000 requests). `checks_version` moves with every write of a run's records or
-- checks; a stored split counts only while both runs' versions are the ones it was counted at.
ALTER TABLE runs ADD COLUMN checks_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE hybrid_splits (
    screen_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    judge_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    screen_version INTEGER NOT NULL,
    judge_version  INTEGER NOT NULL,
    counts         TEXT NOT NULL,
    PRIMARY KEY (screen_id, judge_id)
);

-- The same answer (request and run) in other grading queues: a reveal withholds it while another
-- open queue holds it, and a reviewer who saw it revealed is not given it again.
CREATE INDEX queue_items_by_answer ON queue_items(custom_id, run_id);
