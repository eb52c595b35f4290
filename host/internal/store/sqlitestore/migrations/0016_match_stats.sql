-- A finished match's statistics (soccer.Stats as JSON: shots, shots on
-- target, corners, fouls, cards, half-time score; each only when the
-- source has it). Matches stored before carry none.
ALTER TABLE matches ADD COLUMN stats TEXT NOT NULL DEFAULT '{}';
