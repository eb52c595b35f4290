CREATE TABLE model_versions (
    version                INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    model_plugin           TEXT NOT NULL,
    artifact               BLOB NOT NULL,
    artifact_sha256        TEXT NOT NULL,
    signature              TEXT NOT NULL,
    feature_plugin         TEXT NOT NULL,
    feature_schema_version TEXT NOT NULL,
    params                 TEXT NOT NULL,
    metrics                TEXT NOT NULL,
    training_data_hash     TEXT NOT NULL,
    created_at             TEXT NOT NULL
);

CREATE TABLE model_aliases (
    alias      TEXT PRIMARY KEY,
    version    INTEGER NOT NULL REFERENCES model_versions (version),
    updated_at TEXT NOT NULL
);
