-- Several reviewers per item: a queue may ask for K judgements per item from the reviewers
-- assigned to it; each item is then dealt to K of them, and each reviewer sees only their items.
-- A queue without K (every queue made before this) keeps "every reviewer judges every item".

ALTER TABLE queues ADD COLUMN grades_per_item BIGINT CHECK (grades_per_item IS NULL OR grades_per_item >= 1);

-- The reviewers assigned to a queue (only queues with grades_per_item have any).
CREATE TABLE queue_reviewers (
    queue_id BIGINT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (queue_id, user_id)
);

-- Which reviewer judges which item. A re-deal replaces only the rows nobody has judged yet.
CREATE TABLE queue_assignments (
    item_id  TEXT NOT NULL REFERENCES queue_items(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    queue_id BIGINT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX queue_assignments_by_reviewer ON queue_assignments(queue_id, user_id);
