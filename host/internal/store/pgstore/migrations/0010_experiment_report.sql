-- An evaluate run keeps its whole evaluation (per-season scores, reliability table) as JSON, so the
-- web page can draw it without re-running anything. Empty for train runs and older rows.
ALTER TABLE experiment_runs ADD COLUMN report TEXT NOT NULL DEFAULT '';
