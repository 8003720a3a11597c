-- Leases: a worker (a `bakeoff serve`, a `bakeoff run`) holds each run it measures under a lease
-- it renews every few seconds. Only a run whose lease expired is taken over by another worker, so
-- two processes on one database never measure the same run. Times are unix seconds from the
-- database's clock (`CAST(strftime('%s', 'now') AS INTEGER)`), never a worker's.

ALTER TABLE runs ADD COLUMN lease_owner TEXT;             -- the worker's id (host/pid/random), NULL: no lease
ALTER TABLE runs ADD COLUMN lease_host TEXT;              -- the holder's host name (kept after the run: who measured it)
ALTER TABLE runs ADD COLUMN lease_pid INTEGER;            -- the holder's process id
ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;     -- unix seconds; the lease is live while now <= this
ALTER TABLE runs ADD COLUMN lease_takeover INTEGER NOT NULL DEFAULT 0;  -- the current lease began by a take-over
ALTER TABLE runs ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;       -- leases taken over after they expired
ALTER TABLE runs ADD COLUMN takeover_note TEXT;           -- the last take-over: when, and from whom

-- The GPU a run measures on: the endpoint's host name (endpoints on one host share a GPU and so
-- one lock: one measured run at a time there). Hosted providers take no lock (NULL). Base URLs
-- are stored canonical (`scheme://host[:port][/prefix]`, host lower-cased, IPv6 in brackets:
-- `app::domain::url`), so the host is the text between `://` and the port or path.
CREATE VIEW endpoint_gpus AS
SELECT id AS endpoint_id,
       CASE WHEN hosted THEN NULL
            WHEN substr(authority, 1, 1) = '[' THEN substr(authority, 1, instr(authority, ']'))
            WHEN instr(authority, ':') > 0 THEN substr(authority, 1, instr(authority, ':') - 1)
            ELSE authority END AS gpu
FROM (SELECT id, hosted,
             CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1) ELSE rest END AS authority
      FROM (SELECT id, hosted, substr(base_url, instr(base_url, '://') + 3) AS rest FROM endpoints));

CREATE INDEX runs_by_lease_owner ON runs(lease_owner) WHERE status = 'running';

-- Worker processes that share this database, each renewing its row like a lease: a start-up
-- names the others that are alive. A clean stop deletes the row.
CREATE TABLE workers (
    id         TEXT PRIMARY KEY,         -- the lease owner id
    kind       TEXT NOT NULL,            -- 'serve' or 'run'
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    seen_at    INTEGER NOT NULL,         -- unix seconds, the database's clock
    sim_url    TEXT                      -- its built-in simulator, if it runs one
);

-- Model servers a worker started for a run (managed launches), written when the process is
-- spawned, before it loads: if the worker dies, the next worker on that host stops the process
-- group before anything is relaunched. `boot_id` and `start_ticks` (the kernel's boot id and the
-- process's start time in clock ticks, /proc/PID/stat) tell the recorded process from a later
-- one that got the same pid.
CREATE TABLE model_servers (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    host        TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    pgid        INTEGER NOT NULL,
    start_ticks INTEGER,
    command     TEXT NOT NULL,
    started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    stopped_at  TEXT
);
CREATE INDEX model_servers_live ON model_servers(host) WHERE stopped_at IS NULL;
