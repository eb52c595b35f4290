-- matches_version counts the writes that changed a match; a feature
-- snapshot records the version it was replayed at, so serving can start
-- from it instead of replaying every match while nothing has changed.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('matches_version', 0);

CREATE TABLE feature_snapshots (
    key             TEXT PRIMARY KEY,
    matches_version INTEGER NOT NULL,
    state           BLOB NOT NULL,
    meta            BLOB NOT NULL,
    created_at      TEXT NOT NULL
);
