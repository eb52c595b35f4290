-- Idempotency-Key: one job per (owner, key) while the key is live. An
-- expired key is cleared (set NULL) before it is used again.
ALTER TABLE jobs ADD COLUMN idem_key TEXT;
ALTER TABLE jobs ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX jobs_idem ON jobs (owner, idem_key) WHERE idem_key IS NOT NULL;
