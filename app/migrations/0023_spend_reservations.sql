-- What a running run may spend on its endpoint before it asks again (issue 17): a run sends a
-- request only within its reservation, and a reservation is granted in one write transaction
-- against the endpoint's cap, what the other runs spent and what the running ones hold. Two runs
-- on one capped endpoint so never pass the cap together.
ALTER TABLE run_spend ADD COLUMN reserved_usd REAL NOT NULL DEFAULT 0;
