#!/usr/bin/env bash
# Package smoke test: packs DslResNet, then builds two consumers of the PACKAGE (not of the projects) outside the
# repository, so that only what the .nupkg carries can make them work:
#   PackageSmoke.csproj  declares a small network; the package's generator must complete it, and the program must
#                        print the expected parameter count;
#   Broken/Broken.csproj declares a residual shape mismatch; its build must fail with DRN0007 on the marked line.
# Restores go to an empty, temporary NuGet cache, so a stale DslResNet 0.1.0 from an earlier run is never used.
# Prints PASS or FAIL per check and exits non-zero if any check fails. Set KEEP_TMP=1 to keep the work folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
smoke_src="$root/tests/PackageSmoke"
version="0.1.0"
expected_parameters=9938 # counted by hand in SmokeNet.cs

work="$(mktemp -d "${TMPDIR:-/tmp}/dslresnet-smoke.XXXXXX")"
cleanup() {
    if [[ "${KEEP_TMP:-0}" == "1" ]]; then echo "Work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

feed="$work/feed"
export NUGET_PACKAGES="$work/packages"
consumer="$work/PackageSmoke"
failures=0
checks=0

pass() { checks=$((checks + 1)); echo "PASS: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }
# A check the later ones depend on: stop here when it fails.
fatal() { fail "$*"; echo "package smoke: stopped early, $failures of $checks checks failed"; exit 1; }
dn() { dotnet "$@" -nologo -tl:off; }

echo "== package smoke: work folder $work"

# 1. Pack.
if dn pack "$root/src/DslResNet" -c Release -o "$feed" > "$work/pack.log" 2>&1; then
    pass "dotnet pack src/DslResNet -c Release"
else
    cat "$work/pack.log"
    fatal "dotnet pack src/DslResNet -c Release (log above)"
fi
mapfile -t packages < <(cd "$feed" && ls -1 ./*.nupkg)
if [[ "${#packages[@]}" -eq 1 && "${packages[0]}" == "./DslResNet.$version.nupkg" ]]; then
    pass "pack produced exactly one package, DslResNet.$version.nupkg"
else
    fatal "pack produced ${packages[*]:-nothing}, expected exactly DslResNet.$version.nupkg"
fi

# 2. Copy the consumers out of the repository (no Directory.Build.props of the repository applies there).
mkdir -p "$consumer"
tar -C "$smoke_src" --exclude='./bin' --exclude='./obj' --exclude='./Broken/bin' --exclude='./Broken/obj' -cf - . | tar -C "$consumer" -xf -

# 3. Restore the good consumer from the feed, as an extra source, into the empty cache.
if dn restore "$consumer/PackageSmoke.csproj" -p:RestoreAdditionalProjectSources="$feed" > "$work/restore.log" 2>&1; then
    pass "restore PackageSmoke with the local feed into an empty NUGET_PACKAGES"
else
    cat "$work/restore.log"
    fatal "restore PackageSmoke (log above)"
fi

cached="$NUGET_PACKAGES/dslresnet/$version"
if cmp -s "$feed/DslResNet.$version.nupkg" "$cached/dslresnet.$version.nupkg"; then
    pass "the restored DslResNet $version is the package just packed"
else
    fatal "the restored DslResNet $version is not the package just packed (another source served it?)"
fi
for file in lib/net10.0/DslResNet.dll analyzers/dotnet/cs/DslResNet.Generators.dll; do
    if [[ -f "$cached/$file" ]]; then pass "package carries $file"; else fail "package lacks $file"; fi
done
if grep -qi 'dependency id="DslResNet.Generators"' "$cached/dslresnet.nuspec"; then
    fail "package declares a dependency on DslResNet.Generators"
else
    pass "package has no dependency on DslResNet.Generators"
fi

# 4. Build and run the good consumer.
if dn build "$consumer/PackageSmoke.csproj" -c Release --no-restore -p:EmitCompilerGeneratedFiles=true > "$work/build.log" 2>&1; then
    pass "build PackageSmoke against the package"
else
    cat "$work/build.log"
    fatal "build PackageSmoke against the package (log above)"
fi
generated="$(find "$consumer/obj" -path '*DslResNet.Generators.NetworkGenerator*' -name 'PackageSmoke.SmokeNet.g.cs' | head -n 1)"
if [[ -n "$generated" ]]; then
    pass "the package's generator emitted PackageSmoke.SmokeNet.g.cs"
else
    fail "no PackageSmoke.SmokeNet.g.cs from the package's generator under obj/"
fi

if output="$(dotnet "$consumer/bin/Release/net10.0/PackageSmoke.dll" 2>&1)"; then
    pass "run PackageSmoke"
else
    echo "$output"
    fatal "run PackageSmoke (output above)"
fi
echo "$output" | sed 's/^/    | /'
printed="$(echo "$output" | sed -n 's/^ParameterCount: \([0-9]*\)$/\1/p')"
if [[ "$printed" == "$expected_parameters" ]]; then
    pass "generated ParameterCount is $expected_parameters"
else
    fail "generated ParameterCount is '${printed}', expected $expected_parameters"
fi
if echo "$output" | grep -q '^Network: SmokeNet$' && echo "$output" | grep -q 'layer2\.0\.downsample\.0 .*(projection)'; then
    pass "Summary() lists the network and its projection shortcut layer2.0.downsample.0"
else
    fail "Summary() lacks 'Network: SmokeNet' or the projection layer2.0.downsample.0"
fi

if echo "$output" | grep -q '^TrainStep loss finite: True$'; then
    pass "the generated network trains a step on the package's runtime (ILGPU CPU accelerator)"
else
    fail "no finite TrainStep loss from the generated network"
fi

# 5. The broken consumer must fail with DRN0007 (and nothing else) on the marked line.
broken="$consumer/Broken"
expected_line="$(grep -n 'run.sh expects DRN0007' "$broken/BrokenNet.cs" | cut -d: -f1)" || fatal "no line marked 'run.sh expects DRN0007' in Broken/BrokenNet.cs"
if ! dn restore "$broken/Broken.csproj" -p:RestoreAdditionalProjectSources="$feed" > "$work/broken-restore.log" 2>&1; then
    cat "$work/broken-restore.log"
    fatal "restore Broken (log above)"
fi
if dn build "$broken/Broken.csproj" -c Release --no-restore > "$work/broken-build.log" 2>&1; then
    fail "Broken built, but its residual shape mismatch must fail the build"
else
    pass "Broken fails to build"
fi
# Each error appears twice in MSBuild's output (as it happens and in the summary); keep one, less the project suffix.
mapfile -t errors < <(grep -E ': error [A-Z]+[0-9]+' "$work/broken-build.log" | sed -E 's/ \[[^]]*\]$//' | sort -u)
printf '    | %s\n' "${errors[@]}"
if [[ "${#errors[@]}" -eq 1 && "${errors[0]}" == "$broken/BrokenNet.cs($expected_line,"*"): error DRN0007: "* ]]; then
    pass "Broken's only error is DRN0007 at Broken/BrokenNet.cs line $expected_line"
else
    [[ "${#errors[@]}" -eq 0 ]] && cat "$work/broken-build.log"
    fail "Broken: expected exactly one error, DRN0007 at Broken/BrokenNet.cs line $expected_line; got ${#errors[@]} (above)"
fi

if [[ "$failures" -eq 0 ]]; then
    echo "package smoke: all $checks checks passed"
else
    echo "package smoke: $failures of $checks checks failed"
fi
[[ "$failures" -eq 0 ]]
