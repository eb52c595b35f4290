-- The forecast log: every forecast served, identical answers kept as one
-- row with a count and the first and last times they were served.
CREATE TABLE forecasts (
    key            TEXT PRIMARY KEY,
    match_id       TEXT NOT NULL,
    competition    TEXT NOT NULL,
    season         TEXT NOT NULL,
    home_team      TEXT NOT NULL,
    away_team      TEXT NOT NULL,
    kickoff        TEXT NOT NULL,
    p_home         REAL NOT NULL,
    p_draw         REAL NOT NULL,
    p_away         REAL NOT NULL,
    model          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    generation     INTEGER NOT NULL,
    feature_schema TEXT NOT NULL,
    market_home    REAL,
    market_draw    REAL,
    market_away    REAL,
    route          TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    features       TEXT NOT NULL,
    count          INTEGER NOT NULL,
    first_at       TEXT NOT NULL,
    last_at        TEXT NOT NULL
);
CREATE INDEX forecasts_first_at ON forecasts (first_at);
CREATE INDEX forecasts_match ON forecasts (match_id);
CREATE INDEX forecasts_last_at ON forecasts (last_at);
