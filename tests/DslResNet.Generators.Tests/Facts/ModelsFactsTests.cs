using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;
using Models = DslResNet.Models;

namespace DslResNet.Generators.Tests.Facts;

/// <summary>
/// The networks shipped in DslResNet.Models, as built (the generator ran at that project's build), against
/// torchvision's parameter counts and the ResNet paper's CIFAR table.
/// </summary>
public sealed class ModelsFactsTests
{
    [Fact]
    public void ImageNet_parameter_counts_equal_torchvision()
    {
        Assert.Equal(11_689_512, Models.ResNet18.ParameterCount);
        Assert.Equal(21_797_672, Models.ResNet34.ParameterCount);
        Assert.Equal(25_557_032, Models.ResNet50.ParameterCount);
        Assert.Equal(44_549_160, Models.ResNet101.ParameterCount);
        Assert.Equal(60_192_808, Models.ResNet152.ParameterCount);
        Assert.Equal(68_883_240, Models.WideResNet50x2.ParameterCount);
        Assert.Equal(126_886_696, Models.WideResNet101x2.ParameterCount);
        Assert.Equal(25_028_904, Models.ResNeXt50x32x4d.ParameterCount);
        Assert.Equal(88_791_336, Models.ResNeXt101x32x8d.ParameterCount);
        Assert.Equal(83_455_272, Models.ResNeXt101x64x4d.ParameterCount);
    }

    [Fact]
    public void SEResNet50_parameter_count_equals_timm()
    {
        // timm's seresnet50: resnet50's 25,557,032 plus one SE module per block, fc1 C -> rd and fc2 rd -> C, both 1x1 with
        // bias: 2 C rd + rd + C parameters, rd = make_divisible(C / 16, 8) = C / 16 for these C.
        //   layer1: 3 x (2 * 256 * 16 + 16 + 256)      =    25,392
        //   layer2: 4 x (2 * 512 * 32 + 32 + 512)      =   133,248
        //   layer3: 6 x (2 * 1024 * 64 + 64 + 1024)    =   792,960
        //   layer4: 3 x (2 * 2048 * 128 + 128 + 2048)  = 1,579,392
        //   SE in all: 2,530,992; with resnet50: 28,088,024 (timm.create_model('seresnet50') has 28,088,024).
        long se = (3 * ((2 * 256 * 16) + 16 + 256)) + (4 * ((2 * 512 * 32) + 32 + 512)) + (6 * ((2 * 1024 * 64) + 64 + 1024)) + (3 * ((2 * 2048 * 128) + 128 + 2048));
        Assert.Equal(2_530_992, se);
        long count = Models.SEResNet50.ParameterCount;
        Assert.Equal(25_557_032 + se, count);
        Assert.Equal(28_088_024, count);
        Assert.Equal(new[] { 16, 256, 1, 1 }, Models.SEResNet50.Info.Parameter("layer1.0.se.fc1.weight").Shape);
        Assert.Equal(new[] { 2048, 128, 1, 1 }, Models.SEResNet50.Info.Parameter("layer4.2.se.fc2.weight").Shape);
    }

    [Fact]
    public void Cifar_parameter_counts_match_the_paper()
    {
        // Exact counts as the sample facts assert them; the paper's table gives 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
        Assert.Equal(269_722, Models.ResNet20.ParameterCount);
        Assert.Equal(853_018, Models.ResNet56.ParameterCount);
        Assert.Equal(1_727_962, Models.ResNet110.ParameterCount);
        Assert.Equal(0.46, Math.Round(Models.ResNet32.ParameterCount / 1e6, 2));
        Assert.Equal(0.66, Math.Round(Models.ResNet44.ParameterCount / 1e6, 2));
    }

    [Fact]
    public void Projection_without_batch_norm_matches_the_published_networks()
    {
        // Pre-activation ResNet-20 with option-B projections (1x1 conv, no batch norm): ResNet-20's 269,722 plus the two
        // projections' 16*32 + 32*64 weights. With batch norm on them (ShortcutKind.Projection) it would be 272,474.
        Assert.Equal(272_282, Models.PreActResNet20.ParameterCount);
        // Zagoruyko and Komodakis's WRN-16-4 (2.7M) and WRN-28-10 (36.5M), as their PyTorch code counts them.
        Assert.Equal(2_748_890, Models.WideResNet16x4.ParameterCount);
        Assert.Equal(36_479_194, Models.WideResNet28x10.ParameterCount);
    }

    [Fact]
    public void SEResNet50_state_dict_names_are_timms_in_order()
    {
        // timm's seresnet50 state_dict, written out from its Bottleneck: modules in registration order conv1, bn1, conv2,
        // bn2, conv3, bn3, se (fc1, fc2; bn is Identity), then downsample (conv, bn) in each stage's first block.
        static IEnumerable<string> Norm(string m) => [m + ".weight", m + ".bias", m + ".running_mean", m + ".running_var", m + ".num_batches_tracked"];
        List<string> timm = ["conv1.weight", .. Norm("bn1")];
        int[] blocks = [3, 4, 6, 3];
        for (int stage = 0; stage < 4; stage++)
        {
            for (int b = 0; b < blocks[stage]; b++)
            {
                string p = $"layer{stage + 1}.{b}.";
                timm.AddRange([p + "conv1.weight", .. Norm(p + "bn1"), p + "conv2.weight", .. Norm(p + "bn2"), p + "conv3.weight", .. Norm(p + "bn3")]);
                timm.AddRange([p + "se.fc1.weight", p + "se.fc1.bias", p + "se.fc2.weight", p + "se.fc2.bias"]);
                if (b == 0)
                {
                    timm.AddRange([p + "downsample.0.weight", .. Norm(p + "downsample.1")]);
                }
            }
        }

        timm.AddRange(["fc.weight", "fc.bias"]);
        Assert.Equal(timm, Models.SEResNet50.Info.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void ResNet50D_matches_timm_in_count_and_state_dict_names()
    {
        // timm's resnet50d: ResNet-50's 25,557,032 minus the 7x7 stem (3*64*49 = 9,408) plus the deep stem's convolutions
        // (3*32*9 + 32*32*9 + 32*64*9 = 28,512) and its two batch norms (2 * 2 * 32 = 128); the average pools add nothing.
        Assert.Equal(25_557_032 - 9_408 + 28_512 + 128, Models.ResNet50D.ParameterCount);
        Assert.Equal(25_576_264, Models.ResNet50D.ParameterCount);

        // timm's state_dict keys, written out from its ResNet class (stem_type='deep', avg_down=True): the stem is
        // nn.Sequential(conv, bn, act, conv, bn, act, conv), then bn1; each stage's first block has downsample =
        // Sequential(pool or Identity, conv, bn).
        static IEnumerable<string> Norm(string m) => [m + ".weight", m + ".bias", m + ".running_mean", m + ".running_var", m + ".num_batches_tracked"];
        List<string> timm = ["conv1.0.weight", .. Norm("conv1.1"), "conv1.3.weight", .. Norm("conv1.4"), "conv1.6.weight", .. Norm("bn1")];
        int[] blocks = [3, 4, 6, 3];
        for (int stage = 0; stage < 4; stage++)
        {
            for (int b = 0; b < blocks[stage]; b++)
            {
                string p = $"layer{stage + 1}.{b}.";
                timm.AddRange([p + "conv1.weight", .. Norm(p + "bn1"), p + "conv2.weight", .. Norm(p + "bn2"), p + "conv3.weight", .. Norm(p + "bn3")]);
                if (b == 0)
                {
                    timm.AddRange([p + "downsample.1.weight", .. Norm(p + "downsample.2")]);
                }
            }
        }

        timm.AddRange(["fc.weight", "fc.bias"]);
        IEnumerable<string> ours = Models.ResNet50D.Info.Parameters.Select(p => p.Name);
        Assert.Equal(timm, ours.Select(n => Regex.Replace(n, @"^conv1_(\d)\.", "conv1.$1.")));
    }
}
