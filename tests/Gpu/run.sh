#!/usr/bin/env bash
# Issue 17's device script: on a machine with an NVIDIA GPU, PyTorch and no .NET, runs in one go from the archive
# tests/Gpu/pack.sh made (.gpu/gpucheck-linux-x64.tar.xz, carried by the device tool; see tests/Gpu/README.md):
#   1. nvidia-smi;  2. gpucheck parity on CUDA + torch_parity.py;  3. gpucheck bench + torch_bench.py (eager, compile);
#   4. $OUT/gpu-results.md: the benchmark against the issue's goals and the parity verdict.
# Every stage runs under `timeout` within one overall budget (BUDGET_S, default 540 s of the device call's 600), so a
# hang cannot eat the lease; a failed or cut stage is reported in the table and the rest still run.
#
#   tests/Gpu/run.sh          on the GPU machine: device cuda, full sizes, python3
#   tests/Gpu/run.sh --cpu    a CPU dry run here: the SIMD cpu device, --quick sizes, /usr/bin/python3 (torch on the CPU)
# Environment: OUT (results; default .gpu/out), GPU_ARCHIVE, GPUCHECK_DEVICE (cuda, ilgpu-cpu, cpu, auto), PYTHON,
# BUDGET_S, WARMUP, REPEATS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mode=gpu
case "${1:-}" in
  --cpu) mode=cpu ;;
  "") ;;
  *) echo "run.sh: unknown option '$1'; usage: tests/Gpu/run.sh [--cpu]" >&2; exit 2 ;;
esac
archive=${GPU_ARCHIVE:-$repo/.gpu/gpucheck-linux-x64.tar.xz}
OUT=${OUT:-$repo/.gpu/out}
if [ $mode = gpu ]; then
  device=${GPUCHECK_DEVICE:-cuda}; py=${PYTHON:-python3}; quick=; budget=${BUDGET_S:-540}
  warmup=${WARMUP:-2}; repeats=${REPEATS:-7}; torch_device=auto
else
  device=${GPUCHECK_DEVICE:-cpu}; py=${PYTHON:-/usr/bin/python3}; quick=--quick; budget=${BUDGET_S:-1200}
  warmup=${WARMUP:-1}; repeats=${REPEATS:-3}; torch_device=cpu
fi
mkdir -p "$OUT/logs"
work=$(mktemp -d /tmp/gpu-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
: > "$OUT/stages.tsv"
export PYTHONUNBUFFERED=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# stage NAME LIMIT_S COMMAND...: runs COMMAND under timeout (at most LIMIT_S, at most what the budget has left less 20 s
# for the report), logs to $OUT/logs/NAME.log and echoes it, and records "NAME<TAB>status<TAB>seconds" in stages.tsv.
stage() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - ($(date +%s) - started) - 20 ))
  (( limit > left )) && limit=$left
  if (( limit < 10 )); then
    printf '%s\tskipped (budget spent)\t0\n' "$name" >> "$OUT/stages.tsv"; echo "== $name: skipped, budget spent"; return 1
  fi
  # A shell function (machine, unpack) runs in a child bash, so that timeout can stop it.
  if declare -F "$1" > /dev/null; then set -- bash -c "$1"; fi
  echo "== $name (limit ${limit} s): $*"
  local t0=$(date +%s) rc=0
  timeout -k 10 "$limit" "$@" > "$OUT/logs/$name.log" 2>&1 || rc=$?
  local dt=$(( $(date +%s) - t0 )) status=ok
  if (( rc == 124 || rc == 137 )); then status="timed out after ${limit} s"; elif (( rc != 0 )); then status="failed (exit $rc)"; fi
  cat "$OUT/logs/$name.log"
  printf '%s\t%s\t%s\n' "$name" "$status" "$dt" >> "$OUT/stages.tsv"
  echo "== $name: $status, ${dt} s"
  [ "$status" = ok ]
}

machine() {
  if [ $mode = gpu ] && command -v nvidia-smi > /dev/null; then
    nvidia-smi && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/gpu.txt"
  else
    echo "CPU dry run: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores" | tee "$work/gpu.txt"
  fi
}

unpack() {
  [ -f "$archive" ] || { echo "run.sh: no archive at $archive; run tests/Gpu/pack.sh first and carry .gpu/gpucheck-linux-x64.tar.xz"; return 1; }
  mkdir -p "$work/app" && tar -xJf "$archive" -C "$work/app" && ls -la "$work/app/gpucheck/GpuCheck"
}

export -f machine unpack
export mode work archive
gpucheck="$work/app/gpucheck/GpuCheck"
stage machine 30 machine
if stage unpack 60 unpack; then
  stage parity_dotnet 150 "$gpucheck" parity --device "$device" --dir "$work/parity" \
    && stage parity_torch 180 "$py" "$here/torch_parity.py" --dir "$work/parity" --device "$torch_device" \
         --json "$OUT/parity.json" --table "$OUT/parity-tensors.md"
  stage bench_dotnet 200 "$gpucheck" bench --device "$device" --out "$OUT/bench-dslresnet.json" $quick \
    --warmup "$warmup" --repeats "$repeats"
fi
stage bench_eager 120 "$py" "$here/torch_bench.py" --device "$torch_device" --variants eager_fp32,eager_tf32 \
  --out "$OUT/bench-eager.json" $quick --warmup "$warmup" --repeats "$repeats"
stage bench_compile 150 "$py" "$here/torch_bench.py" --device "$torch_device" --variants compile_fp32,compile_tf32 \
  --out "$OUT/bench-compile.json" $quick --warmup "$warmup" --repeats "$repeats"
"$py" "$here/report.py" --out-dir "$OUT" --mode $mode --machine "$(cat "$work/gpu.txt" 2>/dev/null)" \
  --device "$device" --elapsed $(( $(date +%s) - started )) || echo "run.sh: report.py failed"
echo "run.sh: $OUT/gpu-results.md ($(( $(date +%s) - started )) s)"
[ -f "$OUT/gpu-results.md" ] && cat "$OUT/gpu-results.md"
exit 0
