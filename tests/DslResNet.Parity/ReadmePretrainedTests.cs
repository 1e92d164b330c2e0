using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using DslResNet.IO;
using DslResNet.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Device = DslResNet.Runtime.Device;
using Models = DslResNet.Models;

namespace DslResNet.Parity;

// README's "Reusing a pretrained network" declarations, as written there (3 x 224 x 224, ResNet-50's own input).
[Network(LayersOf = typeof(Models.ResNet50), Classes = 37)]
public partial class ReadmePets;

[Network(LayersOf = typeof(Models.ResNet50), Until = "avgpool")]
public partial class ReadmeFeatures;

/// <summary>
/// README's recipe for torchvision's published ResNet-50 weights, run on a stand-in for the file (no internet here): a
/// torchvision resnet50 (TorchVision 0.107.0, TorchSharp's port; its own random initialisation) saved as a state_dict
/// <c>.pth</c> (a zip with a pickle and raw storages, as <c>torch.save</c> writes torchvision's files), then the README's
/// calls. Checks the report README prints (318 tensors loaded; the old 1000-way head reported, the new 37-way one kept
/// as initialised) and that the feature extractor, given the same file, computes torchvision's own features: its
/// 2,048 pooled features times torchvision's fc give torchvision's logits for the same image (evaluation mode).
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class ReadmePretrainedTests(ParityFixture fixture) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dslresnet-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Torchvision_resnet50_pth_loads_into_a_new_head_and_a_feature_extractor_as_readme_says()
    {
        TorchHealth.EnsureLoaded();
        using var model = torchvision.models.resnet50();
        model.eval();
        Checkpoint published = new();
        foreach ((string name, Tensor t) in model.state_dict())
        {
            int[] shape = t.shape.Select(d => (int)d).ToArray();
            published.Model[name] = t.dtype == ScalarType.Int64
                ? TensorData.Int64(shape, t.data<long>().ToArray())
                : TensorData.Float(shape, t.contiguous().data<float>().ToArray());
        }

        string path = Path.Combine(_dir, "resnet50.pth");
        published.SavePth(path);

        Device device = fixture.Device(DeviceKind.Cpu);
        using (var pets = new ReadmePets(device, batchSize: 1))
        {
            CheckpointImport report = pets.ImportCheckpoint(Checkpoint.Load(path), strict: false);
            Assert.Equal(318, report.Loaded.Count);
            Assert.Equal(["fc.weight", "fc.bias"], report.Missing);
            Assert.StartsWith("318 tensors loaded; missing from the checkpoint (kept as they were): fc.weight, fc.bias; skipped: ", report.ToString());
            Assert.Equal(published.Model["layer4.2.conv3.weight"].Floats, pets.GetParameter("layer4.2.conv3.weight"));
        }

        using var features = new ReadmeFeatures(device, batchSize: 1);
        CheckpointImport featureReport = features.ImportCheckpoint(Checkpoint.Load(path), strict: false);
        Assert.Equal(318, featureReport.Loaded.Count);
        Assert.Empty(featureReport.Missing);

        Random random = new(3);
        float[] image = Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] pooled = new float[2048];
        features.Eval();
        features.Predict(image, pooled);
        float[] logits;
        using (no_grad())
        {
            using Tensor x = tensor(image, [1, 3, 224, 224]);
            logits = TorchInterpreter.Floats(model.forward(x));
        }

        float[] w = published.Model["fc.weight"].Floats!;
        float[] b = published.Model["fc.bias"].Floats!;
        float[] ours = new float[1000];
        for (int k = 0; k < 1000; k++)
        {
            double sum = b[k];
            for (int j = 0; j < 2048; j++)
            {
                sum += (double)w[(k * 2048) + j] * pooled[j];
            }

            ours[k] = (float)sum;
        }

        Mismatches m = new();
        m.Close("torchvision's logits from DslResNet's pooled features", logits, ours, 1e-3);
        m.Assert("resnet50 at 224 x 224");
    }
}
