-- The probe that first stored each id, so an id sent again by ANOTHER probe is refused as a
-- conflict instead of being counted as a harmless resend (importer ids are derived from the file
-- and can collide). Existing ids get their owner from the stored rows; ids whose rows are gone
-- (retention) stay NULL and count as resends, as before.
ALTER TABLE measurement_ids ADD COLUMN IF NOT EXISTS probe_id text;
UPDATE measurement_ids AS i SET probe_id = m.probe_id
  FROM measurements AS m
 WHERE m.id = i.id AND i.probe_id IS NULL;
