-- A sample of each model version's training rows and its forecasts of
-- them, kept at training time: the reference for drift.
CREATE TABLE model_references (
    version INTEGER PRIMARY KEY,
    body    BLOB NOT NULL
);
