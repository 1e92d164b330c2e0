using System;
using DslResNet.Runtime;
using PackageSmoke;

// Both members are generated: if the package's generator did not run, this does not compile.
Console.WriteLine("ParameterCount: " + SmokeNet.ParameterCount);
Console.WriteLine(SmokeNet.Summary());

// The package's runtime (and its ILGPU dependency) must run the generated network: one training step on the CPU.
using Device device = Device.Create(DeviceKind.Cpu);
using var net = new SmokeNet(device, 2);
float[] images = new float[2 * 3 * 16 * 16];
for (int i = 0; i < images.Length; i++)
{
    images[i] = (i % 7) / 7f;
}

var optimizer = new DslResNet.Training.Sgd(0.1);
net.AddParametersTo(optimizer);
BatchResult result = net.TrainStep(images, new[] { 1, 2 }, optimizer);
Console.WriteLine("TrainStep loss finite: " + double.IsFinite(result.Loss));
