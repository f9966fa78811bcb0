-- Dead letters are keyed by (stage, source, key): a replay file's key
-- "line:N" is the same in every replay source, and one source's letter must
-- not hide another's. Existing letters keep their source (empty for the
-- stages that did not record it).
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_stage_key_key;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_stage_source_key_key UNIQUE (stage, source, key);
