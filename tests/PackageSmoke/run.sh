#!/usr/bin/env bash
# Package smoke test: packs DslResNet and DslResNet.Models, then builds three consumers of the PACKAGE (not of the projects) outside the
# repository, so that only what the .nupkg carries can make them work:
#   PackageSmoke.csproj  declares a small network; the package's generator must complete it, and the program must
#                        print the expected parameter count;
#   Broken/Broken.csproj declares a residual shape mismatch; its build must fail with DRN0007 on the marked line;
#   ModelsConsumer/      references only DslResNet.Models: the generator must arrive through its DslResNet dependency
#                        and read the package's BasicBlock and ResNet20 (LayersOf) from the DLL's metadata;
#   the template         DslResNet.Templates packed and installed into a private hive; `dotnet new dslresnet` must give
#                        projects that build without warnings, pass their own tests and train on a small dataset.
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

# 1. Pack: DslResNet (runtime + generator) and DslResNet.Models (standard blocks and networks, depending on DslResNet).
for project in DslResNet DslResNet.Models; do
    if dn pack "$root/src/$project" -c Release -o "$feed" > "$work/pack-$project.log" 2>&1; then
        pass "dotnet pack src/$project -c Release"
    else
        cat "$work/pack-$project.log"
        fatal "dotnet pack src/$project -c Release (log above)"
    fi
done
mapfile -t packages < <(cd "$feed" && ls -1 ./*.nupkg)
if [[ "${packages[*]}" == "./DslResNet.$version.nupkg ./DslResNet.Models.$version.nupkg" ]]; then
    pass "pack produced exactly DslResNet.$version.nupkg and DslResNet.Models.$version.nupkg"
else
    fatal "pack produced ${packages[*]:-nothing}, expected exactly DslResNet.$version.nupkg and DslResNet.Models.$version.nupkg"
fi

# 2. Copy the consumers out of the repository (no Directory.Build.props of the repository applies there).
mkdir -p "$consumer"
tar -C "$smoke_src" --exclude='./bin' --exclude='./obj' --exclude='./Broken/bin' --exclude='./Broken/obj' --exclude='./ModelsConsumer/bin' --exclude='./ModelsConsumer/obj' -cf - . | tar -C "$consumer" -xf -

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
for file in lib/net10.0/DslResNet.dll analyzers/dotnet/cs/DslResNet.Generators.dll analyzers/dotnet/cs/DslResNet.CodeFixes.dll; do
    if [[ -f "$cached/$file" ]]; then pass "package carries $file"; else fail "package lacks $file"; fi
done
if grep -qiE 'dependency id="DslResNet.(Generators|CodeFixes)"' "$cached/dslresnet.nuspec"; then
    fail "package declares a dependency on DslResNet.Generators or DslResNet.CodeFixes"
else
    pass "package has no dependency on DslResNet.Generators or DslResNet.CodeFixes"
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

# 6. A consumer of DslResNet.Models only: DslResNet and its generator must come as its dependency (with analyzers, which
#    NuGet excludes from dependencies by default), and the package's blocks and LayersOf networks must be read from its DLL.
models="$consumer/ModelsConsumer"
if dn restore "$models/ModelsConsumer.csproj" -p:RestoreAdditionalProjectSources="$feed" > "$work/models-restore.log" 2>&1; then
    pass "restore ModelsConsumer (DslResNet.Models only) with the local feed"
else
    cat "$work/models-restore.log"
    fatal "restore ModelsConsumer (log above)"
fi
models_nuspec="$(cat "$NUGET_PACKAGES/dslresnet.models/$version/dslresnet.models.nuspec")"
if echo "$models_nuspec" | grep -q 'dependency id="DslResNet" version="'"$version"'"' && ! echo "$models_nuspec" | grep -q 'dependency id="DslResNet".*exclude=".*Analyzers'; then
    pass "DslResNet.Models depends on DslResNet $version without excluding its analyzers"
else
    fail "DslResNet.Models's dependency on DslResNet is missing or excludes analyzers: $(echo "$models_nuspec" | grep dependency)"
fi
if echo "$models_nuspec" | grep -qi 'dependency id="DslResNet.Generators"'; then
    fail "DslResNet.Models declares a dependency on DslResNet.Generators"
else
    pass "DslResNet.Models has no dependency on DslResNet.Generators"
fi
if dn build "$models/ModelsConsumer.csproj" -c Release --no-restore > "$work/models-build.log" 2>&1; then
    pass "build ModelsConsumer against the packages"
    models_output="$(dotnet "$models/bin/Release/net10.0/ModelsConsumer.dll" 2>&1)" || true
    echo "$models_output" | sed 's/^/    | /'
    if [[ "$models_output" == *"ResNet152: 60192808"* && "$models_output" == *"Fashion20: 272186"* && "$models_output" == *"Tiny: 1346"* ]]; then
        pass "ModelsConsumer: ResNet152 60,192,808, LayersOf ResNet20 on 1x28x28 272,186, BasicBlock stage 1,346 parameters"
    else
        fail "ModelsConsumer printed unexpected parameter counts (above)"
    fi
else
    cat "$work/models-build.log"
    fail "build ModelsConsumer against the packages (log above)"
fi

# 7. The project template: pack DslResNet.Templates, install it into a private template hive (the user's templates are
#    left alone), `dotnet new dslresnet -n Fancy.Net`, then restore against the feed, build, run the template's own tests,
#    and run its training program for one epoch on a small generated IDX dataset.
hive="$work/template-hive"
if dn pack "$root/src/DslResNet.Templates" -c Release -o "$work/template-feed" > "$work/pack-templates.log" 2>&1 \
    && [[ -f "$work/template-feed/DslResNet.Templates.$version.nupkg" ]]; then
    pass "dotnet pack src/DslResNet.Templates -c Release"
else
    cat "$work/pack-templates.log"
    fatal "dotnet pack src/DslResNet.Templates (log above)"
fi
if dotnet new install "$work/template-feed/DslResNet.Templates.$version.nupkg" --debug:custom-hive "$hive" > "$work/template-install.log" 2>&1 \
    && dotnet new dslresnet -n Fancy.Net -o "$work/template/Fancy.Net" --debug:custom-hive "$hive" > "$work/template-new.log" 2>&1; then
    pass "dotnet new install the template package; dotnet new dslresnet -n Fancy.Net"
else
    cat "$work/template-install.log" "$work/template-new.log" 2>/dev/null || true
    fatal "install or instantiate the template (logs above)"
fi
made="$work/template/Fancy.Net"
if [[ -f "$made/Fancy.Net.slnx" && -f "$made/Fancy.Net/Fancy.Net.csproj" && -f "$made/Fancy.Net.Tests/Fancy.Net.Tests.csproj" ]] \
    && grep -q '^namespace Fancy.Net;' "$made/Fancy.Net/Network.cs"; then
    pass "the template made Fancy.Net.slnx, Fancy.Net/ and Fancy.Net.Tests/ with namespace Fancy.Net"
else
    find "$made" -type f | sed 's/^/    | /'
    fail "the template's output is not the expected projects (listed above)"
fi
if (cd "$made" && dn restore -p:RestoreAdditionalProjectSources="$feed" > "$work/template-restore.log" 2>&1 \
    && dn build -c Release --no-restore > "$work/template-build.log" 2>&1); then
    if grep -qE ': warning ' "$work/template-build.log"; then
        grep -E ': warning ' "$work/template-build.log" | sort -u | sed 's/^/    | /'
        fail "the template's projects build with warnings (above)"
    else
        pass "the template's projects restore from the package and build without warnings"
    fi
else
    cat "$work/template-restore.log" "$work/template-build.log" 2>/dev/null | tail -n 40
    fatal "restore or build the template's projects (log above)"
fi
if (cd "$made" && dn test -c Release --no-build > "$work/template-test.log" 2>&1) && grep -qE 'Passed: +2,' "$work/template-test.log"; then
    pass "the template's tests pass (2)"
else
    tail -n 30 "$work/template-test.log"
    fail "the template's tests (log above)"
fi
tiny="$work/template-data"
mkdir -p "$tiny"
be32() { printf "\\x%02x\\x%02x\\x%02x\\x%02x" $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
idx() { # prefix count: images of random pixels, labels 0..9 in turn
    local prefix="$1" count="$2" i
    { printf '\x00\x00\x08\x03'; printf "$(be32 "$count")$(be32 28)$(be32 28)"; head -c $((count * 784)) /dev/urandom; } > "$tiny/$prefix-images-idx3-ubyte"
    { printf '\x00\x00\x08\x01'; printf "$(be32 "$count")"; for ((i = 0; i < count; i++)); do printf "\\x0$((i % 10))"; done; } > "$tiny/$prefix-labels-idx1-ubyte"
}
idx train 128
idx t10k 64
if run_output="$(cd "$made" && dotnet "Fancy.Net/bin/Release/net10.0/Fancy.Net.dll" "$tiny" 1 2>&1)" \
    && [[ "$run_output" == *"epoch 1: train loss"* && -s "$made/network.safetensors" && -s "$made/network.onnx" ]]; then
    echo "$run_output" | sed 's/^/    | /'
    pass "the template's program trains an epoch on a small dataset and saves network.safetensors and network.onnx"
else
    echo "$run_output" | sed 's/^/    | /'
    fail "the template's program did not train and save (output above)"
fi

if [[ "$failures" -eq 0 ]]; then
    echo "package smoke: all $checks checks passed"
else
    echo "package smoke: $failures of $checks checks failed"
fi
[[ "$failures" -eq 0 ]]
