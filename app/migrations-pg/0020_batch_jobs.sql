-- Issue 14: batch jobs (offline `vllm run-batch`, a provider's Batch API). One row per batch run,
-- written as the job goes, so a worker that takes the run over keeps polling the same provider
-- batch instead of submitting it again. `job` is domain::batch::JobTiming as JSON (kind, times,
-- line counts, the provider's batch id as `reference`); the file ids are the provider's.
CREATE TABLE run_jobs (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    job TEXT NOT NULL,
    input_file_id TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
