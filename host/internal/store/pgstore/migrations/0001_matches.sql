CREATE TABLE matches (
    id                 TEXT PRIMARY KEY,
    competition        TEXT NOT NULL,
    season             TEXT NOT NULL,
    kickoff            TIMESTAMPTZ NOT NULL,
    kickoff_time_known BOOLEAN NOT NULL,
    home_team          TEXT NOT NULL,
    away_team          TEXT NOT NULL,
    status             TEXT NOT NULL,
    home_goals         INTEGER,
    away_goals         INTEGER,
    result             TEXT,
    odds               JSONB NOT NULL,
    origin             TEXT NOT NULL,
    source             TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    created_run        TEXT NOT NULL,
    updated_run        TEXT NOT NULL
);
CREATE INDEX matches_kickoff ON matches (kickoff, id);
CREATE INDEX matches_competition ON matches (competition, season, kickoff);

CREATE TABLE match_revisions (
    id       BIGSERIAL PRIMARY KEY,
    match_id TEXT NOT NULL REFERENCES matches (id),
    run_id   TEXT NOT NULL,
    changed  JSONB NOT NULL,
    before   JSONB NOT NULL,
    after    JSONB NOT NULL,
    at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX match_revisions_match ON match_revisions (match_id, id);

CREATE TABLE quarantine (
    key        TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    file       TEXT NOT NULL,
    line       INTEGER NOT NULL,
    match_id   TEXT NOT NULL,
    reasons    JSONB NOT NULL,
    raw        TEXT NOT NULL,
    first_run  TEXT NOT NULL,
    last_run   TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL
);

CREATE TABLE source_files (
    source    TEXT NOT NULL,
    name      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    rows      INTEGER NOT NULL,
    first_run TEXT NOT NULL,
    PRIMARY KEY (source, name, sha256)
);

CREATE TABLE ingest_runs (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    files       INTEGER NOT NULL,
    rows_read   INTEGER NOT NULL,
    loaded      INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    error       TEXT NOT NULL
);
