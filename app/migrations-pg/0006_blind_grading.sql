-- Blind grading: a queue is closed by its owner (then, and only then, its reviewers see which
-- model wrote what they judged), and in a blind queue a judgement is final once the reviewer
-- moves on (only their most recent one may still be amended).

ALTER TABLE queues ADD COLUMN closed_at TEXT;

-- Each reviewer's most recent judgement (grade or vote) in each queue.
CREATE TABLE last_judgements (
    queue_id BIGINT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item_id  TEXT NOT NULL REFERENCES queue_items(id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, user_id)
);
