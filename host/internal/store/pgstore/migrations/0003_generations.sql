-- A generation is what serving follows: which version the champion alias points at, the digest of
-- the model plugin it runs on, and the cache namespace its answers live in. Promotion and rollback
-- add one, with the alias change and the audit entry, in one transaction.
CREATE TABLE generations (
    id              BIGINT PRIMARY KEY,
    alias           TEXT NOT NULL,
    version         INTEGER NOT NULL REFERENCES model_versions (version),
    plugin_digest   TEXT NOT NULL,
    cache_namespace TEXT NOT NULL,
    action          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    alias        TEXT NOT NULL,
    from_version INTEGER,
    to_version   INTEGER NOT NULL,
    generation   INTEGER,
    forced       BOOLEAN NOT NULL,
    reason       TEXT NOT NULL,
    details      JSONB NOT NULL
);

CREATE TABLE experiment_runs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ NOT NULL,
    params        JSONB NOT NULL,
    metrics       JSONB NOT NULL,
    dataset_hash  TEXT NOT NULL,
    plugins       JSONB NOT NULL,
    git_commit    TEXT NOT NULL,
    model_version INTEGER
);
