-- Reasoning models (gpt-oss, Qwen3 thinking) stream their reasoning before the answer, in
-- `delta.reasoning` (vLLM >= 0.11) or `delta.reasoning_content` (older vLLM). It is kept apart
-- from the answer (`response`, which quality checks and blind grading read).
-- `reasoning_tokens_source` is NULL for a request that did not reason; then the other three are
-- NULL too, and the answer's first token is the first generated token (`ttft_us`).
ALTER TABLE request_records ADD COLUMN reasoning TEXT;
ALTER TABLE request_records ADD COLUMN reasoning_tokens BIGINT;
ALTER TABLE request_records ADD COLUMN reasoning_tokens_source TEXT;
ALTER TABLE request_records ADD COLUMN answer_ttft_us BIGINT;
