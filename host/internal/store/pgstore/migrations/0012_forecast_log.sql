-- The forecast log: every forecast served, identical answers kept as one
-- row with a count and the first and last times they were served.
CREATE TABLE forecasts (
    key            TEXT PRIMARY KEY,
    match_id       TEXT NOT NULL,
    competition    TEXT NOT NULL,
    season         TEXT NOT NULL,
    home_team      TEXT NOT NULL,
    away_team      TEXT NOT NULL,
    kickoff        TIMESTAMPTZ NOT NULL,
    p_home         DOUBLE PRECISION NOT NULL,
    p_draw         DOUBLE PRECISION NOT NULL,
    p_away         DOUBLE PRECISION NOT NULL,
    model          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    generation     BIGINT NOT NULL,
    feature_schema TEXT NOT NULL,
    market_home    DOUBLE PRECISION,
    market_draw    DOUBLE PRECISION,
    market_away    DOUBLE PRECISION,
    route          TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    features       DOUBLE PRECISION[] NOT NULL,
    count          BIGINT NOT NULL,
    first_at       TIMESTAMPTZ NOT NULL,
    last_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX forecasts_first_at ON forecasts (first_at);
CREATE INDEX forecasts_match ON forecasts (match_id);
CREATE INDEX forecasts_last_at ON forecasts (last_at);
