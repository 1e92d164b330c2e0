using System;
using System.Linq;
using DslResNet;
using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;

// Fashion-MNIST from the Debian package dataset-fashion-mnist, or from the folder given as the first argument.
Dataset train = FashionMnist.Load(args.FirstOrDefault(), train: true);
Dataset test = FashionMnist.Load(args.FirstOrDefault(), train: false);

// A GPU through ILGPU when there is one, else the SIMD CPU backend; the network's memory is planned for 64 images.
using Device device = Device.Create();
using var net = new TinyResNet(device, batchSize: 64);
Console.WriteLine($"{device}: TinyResNet, {TinyResNet.ParameterCount:N0} parameters");

// Two epochs of SGD with momentum on shuffled batches, the learning rate annealed from 0.05 to 0 (cosine);
// the test set is evaluated after each epoch.
var batches = new BatchLoader(train, 64, seed: 1, shuffle: true, dropLast: true);
var schedule = new CosineAnnealingSchedule(0.05, totalUnits: 2, stepsPerUnit: Trainer.StepsPerEpochFor(batches, null));
var trainer = new Trainer(net, new Sgd(0.05, momentum: 0.9, weightDecay: 5e-4), schedule, batches, test, new TrainerOptions { Epochs = 2 });
trainer.EpochCompleted = e => Console.WriteLine($"epoch {e.Epoch}: train loss {e.TrainLoss:F3}, test accuracy {e.TestAccuracy:P2}");
trainer.Run();
Console.WriteLine($"test accuracy {Trainer.Evaluate(net, test).Accuracy:P2}");

// Save (safetensors, torchvision's parameter names), load into a new instance, predict one image, export ONNX.
net.ExportCheckpoint().Save("tiny.safetensors");
using var loaded = new TinyResNet(device, batchSize: 1);
loaded.ImportCheckpoint(Checkpoint.Load("tiny.safetensors"));
float[] logits = new float[10];
loaded.Predict(test.Image(0), logits);
int predicted = Array.IndexOf(logits, logits.Max());
Console.WriteLine($"test image 0: predicted {FashionMnist.ClassNames[predicted]}, labelled {FashionMnist.ClassNames[test.Labels[0]]}");
OnnxExport.Save(loaded, "tiny.onnx");

// The network: a stem, two stages of residual blocks, global pooling and a 10-way classifier. The generator checks
// the shapes at build time (a mistake is a compiler error at its attribute) and writes the rest of the class.
[Block]
public class TinyBlock
{
    [Conv(3, Padding = 1, Strided = true)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu1;
    [Conv(3, Padding = 1)] Layer conv2;
    [BatchNorm] Layer bn2;
    [Residual] Layer add;
    [ReLU] Layer relu2;
}

[Network(1, 28, 28)]
public partial class TinyResNet
{
    [Conv(16, 3, Padding = 1)] Layer conv1;
    [BatchNorm] Layer bn1;
    [ReLU] Layer relu;
    [Stage<TinyBlock>(16, Repeat = 2)] Layer layer1;
    [Stage<TinyBlock>(32, Repeat = 2, Stride = 2)] Layer layer2;
    [GlobalAvgPool] Layer avgpool;
    [Dense(10)] Layer fc;
}
