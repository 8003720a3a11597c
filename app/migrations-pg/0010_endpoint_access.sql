-- Reaching the endpoints teams really run: https with an optional CA certificate, an API key and
-- extra headers, hosted providers linked to a price sheet, and a retry policy for rate-limited
-- answers.
--
-- `api_key` and the values in `headers` are secrets: written by the endpoint forms, read only by
-- `db::endpoints::access` when a check or a run sends them, never selected into a view. The
-- database therefore holds them in clear: keep it (and its backups) like any secret.

ALTER TABLE endpoints ADD COLUMN api_key TEXT;                              -- NULL: no key
ALTER TABLE endpoints ADD COLUMN headers TEXT NOT NULL DEFAULT '[]';        -- JSON [[name, value], ...]
ALTER TABLE endpoints ADD COLUMN ca_pem TEXT;                               -- PEM certificates trusted (and pinned) for https
ALTER TABLE endpoints ADD COLUMN hosted BOOLEAN NOT NULL DEFAULT FALSE;     -- a hosted provider (no /health, /metrics, /tokenize)
ALTER TABLE endpoints ADD COLUMN price_sheet_id BIGINT REFERENCES price_sheets(id) ON DELETE SET NULL;
ALTER TABLE endpoints ADD COLUMN max_retries BIGINT NOT NULL DEFAULT 0;     -- 429/503 answers retried (0: off)

-- Endpoint names are unique (case-insensitively): earlier duplicates get their id appended.
UPDATE endpoints SET name = name || ' (' || id || ')'
WHERE EXISTS (SELECT 1 FROM endpoints e WHERE e.name = endpoints.name COLLATE nocase AND e.id < endpoints.id);
CREATE UNIQUE INDEX endpoints_by_name ON endpoints(name COLLATE nocase);

-- How a run reached its endpoint, as it was when the run started (the endpoint may change later):
-- hosted or not, the price sheet its cost comes from, the retry policy, and what the policy did.
CREATE TABLE run_access (
    run_id          BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    hosted          BOOLEAN NOT NULL DEFAULT FALSE,
    price_sheet_id  BIGINT REFERENCES price_sheets(id) ON DELETE SET NULL,
    retry           TEXT NOT NULL,                 -- JSON RetryPolicy
    retries_made    BIGINT NOT NULL DEFAULT 0,     -- requests sent again under the policy
    rate_limited    BIGINT NOT NULL DEFAULT 0      -- 429 answers that were retried (not in the records)
);
