-- Managed launch commands become admin-written argument lists, run without a shell, with the
-- models each managed endpoint may be started with.
--
-- `launch_template` (a shell line from 0005, possibly written by a runner) is kept only to show
-- admins what to enter again: it is never run.

ALTER TABLE endpoints ADD COLUMN launch_args TEXT;                        -- JSON array of strings; NULL: not managed
ALTER TABLE endpoints ADD COLUMN launch_models TEXT NOT NULL DEFAULT '[]'; -- JSON array of model names
