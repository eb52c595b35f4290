-- How often a worker has started a job (a redelivery after a worker died
-- starts it again).
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
