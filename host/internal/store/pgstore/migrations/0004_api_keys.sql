-- API keys: only a SHA-256 of each key is stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    scopes          JSONB NOT NULL,
    rate_per_minute INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ
);
