-- The kind of a failed job's error (invalid, unprocessable, not-found,
-- unsupported, unavailable, misbehaved, internal): its status for clients,
-- the same as a synchronous request failing the same way would answer.
ALTER TABLE jobs ADD COLUMN error_kind TEXT NOT NULL DEFAULT '';
