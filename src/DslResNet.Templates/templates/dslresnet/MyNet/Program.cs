using DslResNet.Data;
using DslResNet.IO;
using DslResNet.Runtime;
using DslResNet.Training;
using MyNet;

// Usage: dotnet run --project MyNet -- [data folder] [epochs]
// The data folder holds Fashion-MNIST's four IDX files (default: where `apt-get install dataset-fashion-mnist` puts them).
string? folder = args.Length > 0 ? args[0] : null;
int epochs = args.Length > 1 ? int.Parse(args[1]) : 3;
Dataset train, test;
try
{
    train = FashionMnist.Load(folder, train: true);
    test = FashionMnist.Load(folder, train: false);
}
catch (DatasetException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using Device device = Device.Create();
using var net = new Network(device, batchSize: 64);
Console.WriteLine($"{device}: {Network.ParameterCount:N0} parameters");
var batches = new BatchLoader(train, 64, seed: 1, shuffle: true, dropLast: true);
var schedule = new CosineAnnealingSchedule(0.05, totalUnits: epochs, stepsPerUnit: Trainer.StepsPerEpochFor(batches, null));
var trainer = new Trainer(net, new Sgd(0.05, momentum: 0.9, weightDecay: 5e-4), schedule, batches, test,
    new TrainerOptions { Epochs = epochs, CheckpointPath = "network.safetensors" });
trainer.EpochCompleted = e => Console.WriteLine($"epoch {e.Epoch}: train loss {e.TrainLoss:F3}, test accuracy {e.TestAccuracy:P2}");
trainer.Run();
OnnxExport.Save(net, "network.onnx");
Console.WriteLine("saved network.safetensors and network.onnx");
return 0;
