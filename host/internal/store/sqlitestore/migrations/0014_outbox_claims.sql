-- The outbox is claimed, not just read: a relay takes a page of unpublished
-- jobs until relay_until, so two relays draining at once never hand the
-- same job to the queue twice. A relay that dies holding a claim frees it
-- when relay_until passes.
ALTER TABLE jobs ADD COLUMN relay_until TEXT;
