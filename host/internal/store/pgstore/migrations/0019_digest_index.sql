-- The finished-match digest (training's and serving's start: SELECT id,
-- content_hash … WHERE status = 'finished' ORDER BY kickoff, id) walked the
-- kick-off index and fetched every match's row for its status and hash. The
-- kick-off index now includes both, so the digest is an index-only scan.
DROP INDEX matches_kickoff;
CREATE INDEX matches_kickoff ON matches (kickoff, id) INCLUDE (status, content_hash);
