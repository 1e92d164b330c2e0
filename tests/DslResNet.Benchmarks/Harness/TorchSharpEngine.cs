using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DslResNet.Benchmarks.Harness;

/// <summary>
/// Measures the same networks in TorchSharp (libtorch, oneDNN): the CIFAR ResNet of He et al. (3 stages of 16/32/64
/// channels, option-B projection shortcuts like the DslResNet networks measured, no conv bias), written with
/// torch.nn modules as a TorchSharp user would. Variants: default; tcmalloc (the parent preloads it); tcmalloc-cl
/// (input and convolution weights in channels-last memory, obtained with the permute/contiguous/permute idiom since
/// TorchSharp 0.107 has no memory-format API).
/// </summary>
internal static class TorchSharpEngine
{
    /// <summary>Runs one measurement in this process.</summary>
    public static MeasureResult Measure(MeasureSpec spec)
    {
        torch.set_num_threads(spec.Threads);
        torch.manual_seed(1);
        (int channels, int size, int blocks, bool plain) = spec.Network switch
        {
            "resnet20" => (1, 28, 3, false),
            "plain20" => (1, 28, 3, true),
            "resnet56" => (1, 28, 9, false),
            "resnet20-cifar" => (3, 32, 3, false),
            "resnet18-224" or "resnet50-224" => (3, 224, 0, false),
            _ => throw new ArgumentException($"Unknown network '{spec.Network}'."),
        };

        bool channelsLast = spec.Variant == "tcmalloc-cl";
        // torchvision's own ResNet-18/50 (TorchSharp's port) at 224; the CIFAR-style network otherwise.
        torch.nn.Module<Tensor, Tensor> model = spec.Network switch
        {
            "resnet18-224" => torchvision.models.resnet18(),
            "resnet50-224" => torchvision.models.resnet50(),
            _ => new CifarResNet(channels, blocks, plain),
        };
        int classes = Networks.IsImageNet(spec.Network) ? 1000 : 10;
        Tensor images = torch.randn(spec.Batch, channels, size, size);
        Tensor labels = torch.randint(0, classes, spec.Batch, dtype: ScalarType.Int64);
        if (channelsLast)
        {
            images = ChannelsLast(images);
            using (torch.no_grad())
            {
                foreach (Parameter p in model.parameters().Where(p => p.dim() == 4))
                {
                    p.set_(ChannelsLast(p));
                }
            }
        }

        double seconds;
        if (spec.Task == "train")
        {
            model.train();
            var sgd = torch.optim.SGD(model.parameters(), 0.01, momentum: 0.9, weight_decay: 1e-4);
            seconds = Timing.MedianSeconds(spec.Steps, warmups: 3, call: () =>
            {
                using var scope = torch.NewDisposeScope();
                sgd.zero_grad();
                Tensor loss = torch.nn.functional.cross_entropy(model.forward(images), labels);
                loss.backward();
                sgd.step();
            });
        }
        else
        {
            model.eval();
            seconds = Timing.MedianSeconds(spec.Steps, warmups: 3, call: () =>
            {
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                model.forward(images).sum().item<float>();
            });
        }

        return new MeasureResult(seconds, Timing.PeakRssMiB(), $"TorchSharp {spec.Variant}, {torch.get_num_threads()} threads");
    }

    private static Tensor ChannelsLast(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    private sealed class Block : torch.nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly Conv2d? downConv;
        private readonly BatchNorm2d? downBn;
        private readonly bool plain;

        public Block(string name, long input, long output, long stride, bool plain)
            : base(name)
        {
            this.plain = plain;
            conv1 = torch.nn.Conv2d(input, output, 3, stride: stride, padding: 1, bias: false);
            bn1 = torch.nn.BatchNorm2d(output);
            conv2 = torch.nn.Conv2d(output, output, 3, stride: 1, padding: 1, bias: false);
            bn2 = torch.nn.BatchNorm2d(output);
            if (!plain && (stride != 1 || input != output))
            {
                downConv = torch.nn.Conv2d(input, output, 1, stride: stride, bias: false);
                downBn = torch.nn.BatchNorm2d(output);
            }

            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            Tensor y = bn2.forward(conv2.forward(torch.nn.functional.relu(bn1.forward(conv1.forward(x)))));
            if (!plain)
            {
                y = y + (downConv is null ? x : downBn!.forward(downConv.forward(x)));
            }

            return torch.nn.functional.relu(y);
        }
    }

    private sealed class CifarResNet : torch.nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Sequential layers;
        private readonly Linear fc;

        public CifarResNet(int channels, int blocks, bool plain)
            : base("resnet")
        {
            conv1 = torch.nn.Conv2d(channels, 16, 3, padding: 1, bias: false);
            bn1 = torch.nn.BatchNorm2d(16);
            layers = torch.nn.Sequential();
            long input = 16;
            int index = 0;
            foreach ((long width, long stride) in new[] { (16L, 1L), (32L, 2L), (64L, 2L) })
            {
                for (int b = 0; b < blocks; b++)
                {
                    layers.append($"block{index++}", new Block($"block{index}", input, width, b == 0 ? stride : 1, plain));
                    input = width;
                }
            }

            fc = torch.nn.Linear(64, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            Tensor y = layers.forward(torch.nn.functional.relu(bn1.forward(conv1.forward(x))));
            return fc.forward(y.mean([2L, 3L]));
        }
    }
}
