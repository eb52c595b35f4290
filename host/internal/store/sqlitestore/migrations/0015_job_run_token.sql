-- The run that last started a job: a worker that retries its start after
-- the answer was lost (the UPDATE committed, the connection dropped) sends
-- the same token and is not counted as a second attempt.
ALTER TABLE jobs ADD COLUMN run_token TEXT NOT NULL DEFAULT '';
