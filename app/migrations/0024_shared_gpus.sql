-- Endpoints that share a GPU (issue 16): an endpoint may name another it shares a GPU with (two
-- ports of one box under different host names, a proxy in front of the same server); the two
-- then take one lock: one measured run at a time. Without it, endpoints on one host name share
-- the lock as before, and `localhost`, `127.0.0.1` and `[::1]` are one host.
ALTER TABLE endpoints ADD COLUMN shares_gpu_with INTEGER REFERENCES endpoints(id) ON DELETE SET NULL;

DROP VIEW endpoint_gpus;

-- Each endpoint's host name (the text between `://` and the port or path of its canonical URL).
CREATE VIEW endpoint_hosts AS
SELECT id AS endpoint_id,
       CASE WHEN host IN ('localhost', '[::1]') THEN '127.0.0.1' ELSE host END AS host
FROM (SELECT id,
             CASE WHEN substr(authority, 1, 1) = '[' THEN substr(authority, 1, instr(authority, ']'))
                  WHEN instr(authority, ':') > 0 THEN substr(authority, 1, instr(authority, ':') - 1)
                  ELSE authority END AS host
      FROM (SELECT id,
                   CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1) ELSE rest END AS authority
            FROM (SELECT id, substr(base_url, instr(base_url, '://') + 3) AS rest FROM endpoints)));

-- The GPU a run measures on: the host of the endpoint it shares a GPU with, else its own.
-- Hosted providers take no lock (NULL).
CREATE VIEW endpoint_gpus AS
SELECT e.id AS endpoint_id,
       CASE WHEN e.hosted THEN NULL ELSE COALESCE(p.host, h.host) END AS gpu
FROM endpoints e
JOIN endpoint_hosts h ON h.endpoint_id = e.id
LEFT JOIN endpoint_hosts p ON p.endpoint_id = e.shares_gpu_with;
