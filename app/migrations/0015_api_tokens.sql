-- API tokens for scripts: named, per user, with a role no higher than the user's (at each use the
-- token acts with the lower of its role and the user's role then), shown once and stored only as
-- a hash (BLAKE2s of the whole token, like sessions). Not ended by idleness; revoked tokens are
-- kept (so a script is told its token was revoked); a deleted user's tokens go with the user.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,                -- "bk_" and the first hex digits, to tell tokens apart
    created_at   INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)), -- unix seconds
    expires_at   INTEGER,                      -- NULL: never
    last_used_at INTEGER,                      -- written at most once a minute
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
-- A name is used once among a user's live tokens (a revoked token's name may be used again).
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(user_id, name) WHERE revoked_at IS NULL;
