-- A version per job and task row, one more on every update: a writer that read a
-- row can tell whether anyone changed it since (lost updates are detected).
ALTER TABLE job ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE task ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
