-- A job's life in full: the successful end is called "succeeded" (it was
-- "done"), when a worker first started it and when it ended; and webhooks:
-- the URL the result is posted to, the delivery state ('' without a URL,
-- pending, delivered, failed), when the next attempt is due, and every attempt.
UPDATE jobs SET status = 'succeeded' WHERE status = 'done';
ALTER TABLE jobs ADD COLUMN started_at TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TEXT;
ALTER TABLE jobs ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN callback_state TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN callback_due_at TEXT;
ALTER TABLE jobs ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_callback_due ON jobs (callback_due_at) WHERE callback_state = 'pending';
CREATE TABLE job_callbacks (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
