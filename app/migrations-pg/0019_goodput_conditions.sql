-- Issue 18: what the endpoint said about itself when a run started (vLLM's /version, its
-- vllm:*_info gauges, the served model's max_model_len and root) and its prefix-cache use over
-- the run, as JSON (domain::conditions::Conditions). NULL: hosted endpoints, imports, older runs.
-- Goodput targets and automatic sweeps live in the run's spec and summary JSON (no column).
ALTER TABLE runs ADD COLUMN conditions TEXT;
