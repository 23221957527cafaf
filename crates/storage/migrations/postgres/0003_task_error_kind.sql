-- The kind of a failed task's error as its component classified it (user, external,
-- internal); empty for process deaths, timeouts and stops. Auto-retry skips user errors.
ALTER TABLE task ADD COLUMN error_kind TEXT;
