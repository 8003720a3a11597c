-- Sessions end after a time without requests (`bakeoff serve --session-idle-min`), besides
-- their fixed lifetime. Existing sessions count as seen now.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen = CAST(strftime('%s', 'now') AS BIGINT);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
