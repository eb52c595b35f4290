-- The API key that created a job: only it (or an admin key) may read it.
-- Empty for jobs made without authentication (the embedded default).
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
