-- Who did what and when: one row per action a team lead may need to trace (log-ins, launches,
-- cancels, uploads, deletes and restores, role changes, endpoint and launch-command changes,
-- queue reveals, API tokens). Kept in the database; read by admins on the Audit page and as JSON
-- lines from GET /api/audit.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)), -- unix seconds
    actor_id   INTEGER,            -- the user (NULL: nobody logged in, e.g. a failed log-in, or the CLI)
    actor_name TEXT NOT NULL,      -- kept as it was, even after the user is deleted or renamed
    action     TEXT NOT NULL,      -- a dotted word: "login.failed", "run.launch", "dataset.delete", ...
    target     TEXT NOT NULL DEFAULT '',  -- what it was done to: "run 12", "user bob", ...
    detail     TEXT NOT NULL DEFAULT '',  -- a short human sentence (never a password, key or token)
    client     TEXT                -- the client's address when it came over HTTP
);
CREATE INDEX audit_by_time ON audit_log(at);
CREATE INDEX audit_by_actor ON audit_log(actor_name, at);
CREATE INDEX audit_by_action ON audit_log(action, at);
