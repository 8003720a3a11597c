-- Ownership and undoable deletes (issue 17, item 3).
-- Runs, datasets and endpoints record who created them (queues have had `created_by` since
-- 0004); NULL for rows made before this migration and by the CLI.
-- A delete moves a run, dataset, endpoint or grading queue to the trash: `deleted_at` (unix
-- seconds, by the database's clock) and `deleted_by` are set, and every list, page and look-up
-- leaves it out. What goes with it (records, checks, grades, queue items) is not touched until it
-- is purged: by an admin ("Delete forever"), or by `serve` once it has been in the trash longer
-- than `--trash-days`.
ALTER TABLE runs ADD COLUMN created_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN deleted_at BIGINT;
ALTER TABLE runs ADD COLUMN deleted_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE datasets ADD COLUMN created_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE datasets ADD COLUMN deleted_at BIGINT;
ALTER TABLE datasets ADD COLUMN deleted_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE endpoints ADD COLUMN created_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE endpoints ADD COLUMN deleted_at BIGINT;
ALTER TABLE endpoints ADD COLUMN deleted_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE queues ADD COLUMN deleted_at BIGINT;
ALTER TABLE queues ADD COLUMN deleted_by BIGINT REFERENCES users(id) ON DELETE SET NULL;

CREATE INDEX runs_in_trash ON runs(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX datasets_in_trash ON datasets(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX endpoints_in_trash ON endpoints(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX queues_in_trash ON queues(deleted_at) WHERE deleted_at IS NOT NULL;

-- An endpoint's name is unique among the endpoints not in the trash: a new endpoint may take the
-- name of a deleted one (restoring the old one then asks for a rename). Its URL stays unique
-- across the trash (a column constraint since 0001): adding it again says it is in the trash.
DROP INDEX endpoints_by_name;
CREATE UNIQUE INDEX endpoints_by_name ON endpoints(name COLLATE nocase) WHERE deleted_at IS NULL;
