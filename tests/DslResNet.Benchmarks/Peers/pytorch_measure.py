"""One measuring process of the side-by-side harness, in real PyTorch (Debian's python3-torch and python3-torchvision,
run with /usr/bin/python3). The harness's `measure pytorch VARIANT NETWORK TASK THREADS STEPS` starts it; it prints the
same RESULT line as the .NET engines: median seconds per call, peak resident MiB (VmHWM), a note.

The protocol is the TorchSharp engine's (TorchSharpEngine.cs): torch.manual_seed(1), random inputs and labels, three
untimed warm-up calls, then the median of STEPS timed calls; training is an SGD step (lr 0.01, momentum 0.9, weight
decay 1e-4: zero_grad, forward, cross-entropy, backward, step) in train mode; inference is forward, sum, item() under
no_grad in eval mode; latency is inference at batch 1. Networks: torchvision's resnet18/resnet50 at 3x224x224 (batch
8), and the CIFAR-style ResNet of He et al. (16/32/64 channels, option-B projection shortcuts, no conv bias) at 1x28x28
or 3x32x32 (batch 128). Variants: default; tcmalloc (the harness preloads it); tcmalloc-cl (the input and the model in
channels-last memory format as well).
"""

import sys
import time


def fail(message):
    print(f"measure failed: {message}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) != 6:
        fail("expected VARIANT NETWORK TASK THREADS STEPS (got: " + " ".join(argv[1:]) + ")")
    variant, network, task = argv[1], argv[2], argv[3]
    try:
        threads, steps = int(argv[4]), int(argv[5])
    except ValueError:
        fail(f"THREADS and STEPS must be integers (got '{argv[4]}', '{argv[5]}')")
    if variant not in ("default", "tcmalloc", "tcmalloc-cl"):
        fail(f"unknown variant '{variant}' (default, tcmalloc, tcmalloc-cl)")
    if task not in ("train", "infer", "latency"):
        fail(f"unknown task '{task}' for pytorch (train, infer, latency)")

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision

    class Block(nn.Module):
        def __init__(self, inp, out, stride, plain):
            super().__init__()
            self.plain = plain
            self.conv1 = nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out)
            self.conv2 = nn.Conv2d(out, out, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out)
            self.down = None
            if not plain and (stride != 1 or inp != out):
                self.down = nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if not self.plain:
                y = y + (x if self.down is None else self.down(x))
            return F.relu(y)

    class CifarResNet(nn.Module):
        def __init__(self, channels, blocks, plain):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            layers, inp = [], 16
            for width, stride in ((16, 1), (32, 2), (64, 2)):
                for b in range(blocks):
                    layers.append(Block(inp, width, stride if b == 0 else 1, plain))
                    inp = width
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            y = self.layers(F.relu(self.bn1(self.conv1(x))))
            return self.fc(y.mean((2, 3)))

    shapes = {
        "resnet20": (1, 28, 3, False), "plain20": (1, 28, 3, True), "resnet56": (1, 28, 9, False),
        "resnet20-cifar": (3, 32, 3, False), "resnet18-224": (3, 224, 0, False), "resnet50-224": (3, 224, 0, False),
    }
    if network not in shapes:
        fail(f"unknown network '{network}' ({', '.join(shapes)})")
    channels, size, blocks, plain = shapes[network]
    imagenet = network.endswith("-224")

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if network == "resnet18-224":
        model = torchvision.models.resnet18()
    elif network == "resnet50-224":
        model = torchvision.models.resnet50()
    else:
        model = CifarResNet(channels, blocks, plain)
    classes = 1000 if imagenet else 10
    batch = 1 if task == "latency" else 8 if imagenet else 128
    images = torch.randn(batch, channels, size, size)
    labels = torch.randint(0, classes, (batch,), dtype=torch.int64)
    if variant == "tcmalloc-cl":
        images = images.contiguous(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)

    if task == "train":
        model.train()
        sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def call():
            sgd.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            sgd.step()
    else:
        model.eval()

        def call():
            with torch.no_grad():
                model(images).sum().item()

    for _ in range(3):
        call()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2] if len(times) % 2 == 1 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2

    peak = float("nan")
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024.0
    print(f"RESULT {median!r} {peak!r} PyTorch {torch.__version__} {variant}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main(sys.argv)
