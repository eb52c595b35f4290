CREATE TABLE model_versions (
    version                INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    model_plugin           TEXT NOT NULL,
    artifact               BYTEA NOT NULL,
    artifact_sha256        TEXT NOT NULL,
    signature              JSONB NOT NULL,
    feature_plugin         TEXT NOT NULL,
    feature_schema_version TEXT NOT NULL,
    params                 JSONB NOT NULL,
    metrics                JSONB NOT NULL,
    training_data_hash     TEXT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE model_aliases (
    alias      TEXT PRIMARY KEY,
    version    INTEGER NOT NULL REFERENCES model_versions (version),
    updated_at TIMESTAMPTZ NOT NULL
);
