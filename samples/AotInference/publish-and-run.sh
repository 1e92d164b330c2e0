#!/usr/bin/env bash
# Publishes samples/AotInference as a NativeAOT, trimmed linux-x64 executable, builds the same program for the JIT, runs
# both on the same weights and image, and prints the executable's size, each build's time from launch to the first
# prediction (median of RUNS runs) and both builds' logits.
#
#   bash samples/AotInference/publish-and-run.sh [--checkpoint FILE] [--image FILE] [--seed N]   (passed to both builds)
#
# Needs clang (or clang-NN) and zlib1g-dev for the native link: apt-get install clang zlib1g-dev. The publish takes minutes
# (the AOT compiler is single-threaded for most of it). RUNS (default 5) sets the runs timed; OUT (default
# samples/AotInference/bin/aot) where the executable goes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT:-$here/bin/aot}"
runs="${RUNS:-5}"

# The AOT compiler links with `clang`; Debian's clang-NN packages install only versioned names.
linker=()
if ! command -v clang > /dev/null; then
    versioned="$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -n 1 || true)"
    if [[ -z "$versioned" ]]; then
        echo "publish-and-run: no clang found; NativeAOT links with clang: apt-get install clang zlib1g-dev" >&2
        exit 2
    fi
    linker=("-p:CppCompilerAndLinker=$versioned")
fi

echo "== dotnet publish (NativeAOT, linux-x64) -> $out"
start=$(date +%s)
dotnet publish "$here/AotInference.csproj" -c Release -r linux-x64 "${linker[@]}" -o "$out" --nologo -v:q
echo "published in $(( $(date +%s) - start )) s"
echo "== dotnet build (JIT)"
dotnet build "$here/AotInference.csproj" -c Release --nologo -v:q > /dev/null

aot="$out/AotInference"
jit="$here/bin/Release/net10.0/AotInference"
[[ -x "$aot" ]] || { echo "publish-and-run: $aot was not produced" >&2; exit 1; }

# Launch-to-first-prediction in milliseconds: the launch time taken here, the prediction's from the program's
# "predicted at" line (both on the wall clock, in microseconds).
time_run() {
    local launched predicted
    launched=$(( $(date +%s%N) / 1000 ))
    predicted="$("$@" | sed -n 's/^predicted at: \([0-9]*\) us$/\1/p')"
    echo $(( (predicted - launched + 500) / 1000 ))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== runs (same arguments: $*)"
"$aot" "$@" | sed 's/^/aot: /'
"$jit" "$@" | sed 's/^/jit: /'
aot_ms="$(for _ in $(seq "$runs"); do time_run "$aot" "$@"; done | median)"
jit_ms="$(for _ in $(seq "$runs"); do time_run "$jit" "$@"; done | median)"
aot_logits="$("$aot" "$@" | sed -n 's/^logits: //p')"
jit_logits="$("$jit" "$@" | sed -n 's/^logits: //p')"

size=$(stat -c %s "$aot")
echo "== summary"
echo "executable: $aot, $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }') MiB); beside it: $(cd "$out" && ls | grep -v '^AotInference$' | tr '\n' ' ')"
echo "launch to first prediction (median of $runs): NativeAOT $aot_ms ms, JIT $jit_ms ms"
if [[ "$aot_logits" == "$jit_logits" ]]; then
    echo "logits: identical in both builds"
else
    echo "logits differ:"
    echo "  aot: $aot_logits"
    echo "  jit: $jit_logits"
    exit 1
fi
