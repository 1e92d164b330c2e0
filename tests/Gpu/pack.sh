#!/usr/bin/env bash
# Publishes GpuCheck self-contained for linux-x64 (the GPU machine has no .NET) and packs it as
# .gpu/gpucheck-linux-x64.tar.xz at the repository root, a folder .git/info/exclude ignores, so the device tool can
# carry it (see tests/Gpu/README.md for the exact call). Not trimmed: ILGPU compiles kernels from IL at run time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
exclude=$(git rev-parse --path-format=absolute --git-path info/exclude)
grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
out="$repo/.gpu"
rm -rf "$out/publish" && mkdir -p "$out/publish"
dotnet publish tests/Gpu/GpuCheck/GpuCheck.csproj -c Release -r linux-x64 --self-contained true \
  -p:DebugType=none -p:GenerateDocumentationFile=false -o "$out/publish/gpucheck" -nologo -v:quiet
rc=0; "$out/publish/gpucheck/GpuCheck" > /dev/null 2>&1 || rc=$?  # no arguments: the usage error, exit 2
[ $rc -eq 2 ] || { echo "pack.sh: the published GpuCheck does not start (exit $rc)" >&2; exit 1; }
archive="$out/gpucheck-linux-x64.tar.xz"
XZ_OPT='-9 -T2' tar -C "$out/publish" -cJf "$archive.tmp" gpucheck
mv "$archive.tmp" "$archive"
echo "pack.sh: $(du -sh "$out/publish/gpucheck" | cut -f1) published -> $archive ($(stat -c %s "$archive") bytes, $(du -h "$archive" | cut -f1))"
