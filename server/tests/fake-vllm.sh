#!/usr/bin/env bash
# A stand-in for `vllm serve` in tests: prints vLLM's start-up lines and fails the way vLLM does
# when the settings are too large for a pretend GPU; otherwise serves Bakeoff's simulator.
#   fake-vllm.sh MODEL --port P [--gpu-memory-utilization U] [--max-model-len L] [--max-num-seqs S] [--enforce-eager]
#                [--revision R] [--tokenizer-revision R] (accepted, not used)
# Behaviour: FAKE_KV_TOKENS (tokens the pretend KV cache holds, default 2048),
#   FAKE_OOM_UNLESS_EAGER=1 (CUDA OOM while capturing graphs unless --enforce-eager),
#   FAKE_NO_KV_BELOW_UTIL (no KV memory below this utilisation, default 0), BAKEOFF_BIN (the simulator),
#   FAKE_MODEL_FILE (write the model argument there, byte for byte, to show what arrived).
set -u
model=$1; shift
if [[ -n ${FAKE_MODEL_FILE:-} ]]; then printf '%s' "$model" > "$FAKE_MODEL_FILE"; fi
port=8000 util=0.9 len=4096 seqs=256 eager=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) port=$2; shift 2 ;;
    --gpu-memory-utilization) util=$2; shift 2 ;;
    --max-model-len) len=$2; shift 2 ;;
    --max-num-seqs) seqs=$2; shift 2 ;;
    --enforce-eager) eager=1; shift ;;
    --revision|--tokenizer-revision) shift 2 ;;
    --revision=*|--tokenizer-revision=*) shift ;;
    *) echo "vllm serve: error: unrecognized arguments: $1" >&2; exit 2 ;;
  esac
done
kv=${FAKE_KV_TOKENS:-2048}
echo "INFO 10-28 08:39:40 [__init__.py:241] Automatically detected platform cuda."
echo "INFO 10-28 08:39:45 [gpu_model_runner.py:1843] Starting to load model $model..."
echo "INFO 10-28 08:40:05 [gpu_model_runner.py:1892] Model loading took 8.5781 GiB and 20.1 seconds"
if awk "BEGIN { exit !($util < ${FAKE_NO_KV_BELOW_UTIL:-0}) }"; then
  echo "ValueError: No available memory for the cache blocks. Try increasing \`gpu_memory_utilization\` when initializing the engine." >&2
  exit 1
fi
echo "INFO 10-28 08:40:09 [gpu_worker.py:276] Available KV cache memory: 1.58 GiB"
echo "INFO 10-28 08:40:09 [kv_cache_utils.py:849] GPU KV cache size: $kv tokens"
if (( len > kv )); then
  echo "ValueError: The model's max seq len ($len) is larger than the maximum number of tokens that can be stored in KV cache ($kv). Try increasing \`gpu_memory_utilization\` or decreasing \`max_model_len\` when initializing the engine." >&2
  exit 1
fi
echo "INFO 10-28 08:40:09 [kv_cache_utils.py:853] Maximum concurrency for $len tokens per request: $(awk "BEGIN { printf \"%.2f\", $kv / $len }")x"
if [[ $eager == 0 ]]; then
  if [[ ${FAKE_OOM_UNLESS_EAGER:-0} == 1 ]]; then
    echo "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 0 has a total capacity of 15.69 GiB of which 301.00 MiB is free." >&2
    exit 1
  fi
  echo "INFO 10-28 08:40:21 [gpu_model_runner.py:2343] Graph capturing finished in 12 secs, took 0.64 GiB"
fi
exec "$BAKEOFF_BIN" sim --addr "127.0.0.1:$port" --model "$model" --ttft-ms 2 --tpot-ms 0.2 --max-model-len "$len"
