#!/usr/bin/env bash
# Kills a process that saves checkpoints in a loop (tests/CrashSaver run with --save-loop) N times (default 200)
# at random moments, and after each kill checks that the checkpoint is one complete checkpoint, never older than
# before, and counts the temporary files left. Usage: tests/crash/kill-save.sh [kills]   (from the repository root;
# builds tests/CrashSaver in Release first unless NO_BUILD=1).
set -euo pipefail
kills=${1:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ ${NO_BUILD:-0} == 1 ]] || dotnet build "$root/tests/CrashSaver" -c Release -v q -nologo >/dev/null
dll="$root/tests/CrashSaver/bin/Release/net10.0/CrashSaver.dll"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ckpt="$dir/run.safetensors"
last=0 bad=0 maxtemps=0
for ((i = 1; i <= kills; i++)); do
  dotnet "$dll" --save-loop "$ckpt" >"$dir/out" 2>"$dir/err" &
  pid=$!
  until [[ -s "$dir/out" ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "save loop died: $(cat "$dir/err")"; exit 1; }
    sleep 0.02
  done
  sleep "0.$((RANDOM % 150))"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  epoch=$(dotnet "$dll" --verify "$ckpt" 2>&1) || { bad=$((bad + 1)); echo "kill $i: BAD: $epoch"; continue; }
  if ((epoch < last)); then bad=$((bad + 1)); echo "kill $i: epoch went back $last -> $epoch"; fi
  last=$epoch
  temps=$(find "$dir" -name 'run.safetensors.tmp-*' | wc -l)
  ((temps > maxtemps)) && maxtemps=$temps
done
temps=$(find "$dir" -name 'run.safetensors.tmp-*' | wc -l)
echo "kills: $kills, bad checkpoints: $bad, last epoch: $last, most temp files at once: $maxtemps, temp files at the end: $temps"
((bad == 0))
