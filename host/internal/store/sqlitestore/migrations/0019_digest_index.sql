-- The finished-match digest (training's and serving's start: SELECT id,
-- content_hash … WHERE status = 'finished' ORDER BY kickoff, id) walked the
-- kick-off index and looked every match up in the table: a read of the whole
-- table in kick-off order, not in the order it was written (10 s at a million
-- matches of 2 KB). The kick-off index now carries the status and the
-- content hash too, so the digest reads the index alone; every query that
-- used it (kick-off order, a kick-off range) still does.
DROP INDEX matches_kickoff;
CREATE INDEX matches_kickoff ON matches (kickoff, id, status, content_hash);
