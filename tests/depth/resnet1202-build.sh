#!/usr/bin/env bash
# Builds a project holding only a ResNet-1202 declaration (CIFAR, 200 basic blocks per stage, option A) against this
# repository's library and generator, then times the incremental build of that project alone twice (the generator's run
# and the compile; `touch` first) and prints the size of the generated source. Usage: bash tests/depth/resnet1202-build.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/R1202.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
    <NoWarn>\$(NoWarn);CS0169;CS0649</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$root/src/DslResNet/DslResNet.csproj" />
    <ProjectReference Include="$root/generators/DslResNet.Generators/DslResNet.Generators.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
  </ItemGroup>
</Project>
XML
cat > "$dir/Net.cs" <<'CS'
using DslResNet;
namespace R;
[Block]
public class BasicBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}
[Network(3, 32, 32, Shortcut = ShortcutKind.ZeroPad)]
public partial class ResNet1202
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<BasicBlock>(16, Repeat = 200)] Layer layer1;
    [Stage<BasicBlock>(32, Repeat = 200, Stride = 2)] Layer layer2;
    [Stage<BasicBlock>(64, Repeat = 200, Stride = 2)] Layer layer3;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}
CS
cd "$dir"
dotnet build -c Release -v q -nologo > build.log 2>&1 || { cat build.log; exit 1; }
for run in 1 2; do
  touch Net.cs
  start=$(date +%s.%N)
  dotnet build -c Release -v q -nologo --no-dependencies > build.log 2>&1 || { cat build.log; exit 1; }
  echo "build $run: $(echo "$(date +%s.%N) - $start" | bc) s"
done
f=$(find obj -name 'R.ResNet1202.g.cs')
echo "generated: $(stat -c %s "$f") bytes, $(wc -l < "$f") lines"
