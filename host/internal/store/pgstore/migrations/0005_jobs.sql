-- Asynchronous prediction jobs. A job row is written before the API answers 202, so a job is never
-- lost; published_at NULL marks the outbox the relay drains into the queue.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    request      JSONB NOT NULL,
    result       JSONB,
    error        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX jobs_outbox ON jobs (published_at, created_at);
