-- Asynchronous prediction jobs. A job row is written before the API answers 202, so a job is never
-- lost; published_at NULL marks the outbox the relay drains into the queue.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    request      TEXT NOT NULL,
    result       TEXT,
    error        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX jobs_outbox ON jobs (published_at, created_at);
