-- The relay claims the oldest queued jobs not yet published (ORDER BY
-- created_at, id). The index it had held every job, published or not, and
-- no id, and the planner, seeing few queued jobs in its statistics, sorted
-- the whole backlog after a burst to take one page (40 ms a claim at 20,000).
-- This one holds exactly the claimable jobs, in claim order, so a claim reads
-- its page and stops. (The claim names the status as a literal, so that a
-- generic plan can use the index.)
CREATE INDEX jobs_unpublished ON jobs (created_at, id) WHERE published_at IS NULL AND status = 'queued';
DROP INDEX jobs_outbox;
