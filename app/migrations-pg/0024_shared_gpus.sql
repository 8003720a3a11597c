-- Endpoints that share a GPU (see the SQLite file).
ALTER TABLE endpoints ADD COLUMN shares_gpu_with BIGINT REFERENCES endpoints(id) ON DELETE SET NULL;

DROP VIEW endpoint_gpus;

CREATE VIEW endpoint_hosts AS
SELECT id AS endpoint_id,
       CASE WHEN host IN ('localhost', '[::1]') THEN '127.0.0.1' ELSE host END AS host
FROM (SELECT id,
             CASE WHEN substr(authority, 1, 1) = '[' THEN substr(authority, 1, instr(authority, ']'))
                  WHEN instr(authority, ':') > 0 THEN substr(authority, 1, instr(authority, ':') - 1)
                  ELSE authority END AS host
      FROM (SELECT id,
                   CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1) ELSE rest END AS authority
            FROM (SELECT id, substr(base_url, instr(base_url, '://') + 3) AS rest FROM endpoints) AS urls) AS authorities) AS hosts;

CREATE VIEW endpoint_gpus AS
SELECT e.id AS endpoint_id,
       CASE WHEN e.hosted THEN NULL ELSE COALESCE(p.host, h.host) END AS gpu
FROM endpoints e
JOIN endpoint_hosts h ON h.endpoint_id = e.id
LEFT JOIN endpoint_hosts p ON p.endpoint_id = e.shares_gpu_with;
