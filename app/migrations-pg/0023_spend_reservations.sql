-- What a running run may spend on its endpoint before it asks again (see the SQLite file).
ALTER TABLE run_spend ADD COLUMN reserved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
