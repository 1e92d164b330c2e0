#!/usr/bin/env python3
"""PyTorch's side of issue 17's benchmark: the same measures and sizes as `gpucheck bench` (tests/Gpu/GpuCheck/Bench.cs).

Variants: eager_fp32 (TF32 off for matrix products and cuDNN), eager_tf32 (TF32 on; CUDA only), compile_fp32 and
compile_tf32 (torch.compile, default mode; PyTorch 2.0 and later). cuDNN autotuning (cudnn.benchmark) is on: the
stronger, commonly used baseline. Each measure builds its network (the same definitions torch_parity.py uses), runs
warm-up calls (which include torch.compile's compilation and cuDNN's autotuning), then times repeats, each ended by
torch.cuda.synchronize(), and reports the median. Training is one SGD step (lr 0.01, momentum 0.9; mean cross-entropy,
loss read back as DslResNet's step does); inference runs under torch.inference_mode() in eval mode. The JSON is
rewritten after each measure, so a stage cut off by its time limit still leaves what it finished.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_parity import build  # noqa: E402  (the same network definitions as the parity check)

# id, net, mode, full batch, quick batch: the same table as Bench.cs.
MEASURES = [
    ("r20_train_b128", "resnet20", "train", 128, 16),
    ("r20_train_b512", "resnet20", "train", 512, 32),
    ("r20_infer_b1024", "resnet20", "infer", 1024, 64),
    ("r20_latency_b1", "resnet20", "latency", 1, 1),
    ("r50_train_b64", "resnet50", "train", 64, 2),
    ("r50_infer_b256", "resnet50", "infer", 256, 4),
]
INPUTS = {"resnet20": (1, 28, 28, 10), "resnet50": (3, 224, 224, 1000)}
VARIANTS = ["eager_fp32", "eager_tf32", "compile_fp32", "compile_tf32"]


def unavailable(variant, device):
    """Why a variant cannot run here, or None."""
    if variant.endswith("tf32") and device.type != "cuda":
        return "n/a (TF32 is a CUDA tensor-core mode)"
    if variant.startswith("compile") and not hasattr(torch, "compile"):
        return f"n/a (PyTorch {torch.__version__} has no torch.compile)"
    return None


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_measure(net, mode, batch, variant, device, warmup, repeats):
    torch.backends.cuda.matmul.allow_tf32 = variant.endswith("tf32")
    torch.backends.cudnn.allow_tf32 = variant.endswith("tf32")
    torch.manual_seed(1)
    model = build(net)[0].to(device)
    c, h, w, classes = INPUTS[net]
    x = torch.randn(batch, c, h, w, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    if mode == "train":
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        forward = torch.compile(model) if variant.startswith("compile") else model

        def call():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
    else:
        model.eval()
        forward = torch.compile(model) if variant.startswith("compile") else model

        def call():
            with torch.inference_mode():
                forward(x)
    start = time.perf_counter()
    for _ in range(warmup):
        call()
    sync(device)
    warm = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        call()
        sync(device)
        seconds.append(time.perf_counter() - t)
    return seconds, warm


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--variants", default="eager_fp32,eager_tf32", help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="the small sizes of a CPU dry run")
    parser.add_argument("--nets", default="resnet20,resnet50")
    parser.add_argument("--only", help="comma list of measure ids")
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            parser.error(f"--variants: unknown variant '{v}'; expected some of {', '.join(VARIANTS)}")
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    for n in nets:
        if n not in INPUTS:
            parser.error(f"--nets: unknown network '{n}'; expected resnet20, resnet50")
    ids = [m[0] for m in MEASURES]
    only = [i.strip() for i in args.only.split(",")] if args.only else None
    for i in only or []:
        if i not in ids:
            parser.error(f"--only: unknown measure '{i}'; expected some of {', '.join(ids)}")
    for name, value, least in (("--warmup", args.warmup, 0), ("--repeats", args.repeats, 1)):
        if value is not None and value < least:
            parser.error(f"{name}: {value} is below {least}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch sees no CUDA device")
    device = torch.device("cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 10)
    document = {
        "tool": "pytorch", "torch": torch.__version__, "device": str(device),
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "cpu_threads": torch.get_num_threads(), "quick": args.quick, "warmup": warmup, "repeats": repeats,
        "cudnn_benchmark": True, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "variants": {},
    }

    def write():
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(document, f, indent=2)
        os.replace(tmp, args.out)

    print(f"torch_bench: PyTorch {torch.__version__} on {device}"
          + (f" ({document['gpu']})" if document["gpu"] else f", {document['cpu_threads']} threads")
          + f", warm-up {warmup}, repeats {repeats}{', quick sizes' if args.quick else ''}")
    failed = False
    for variant in variants:
        rows = document["variants"].setdefault(variant, {})
        why = unavailable(variant, device)
        for mid, net, mode, full, quick in MEASURES:
            if net not in nets or (only and mid not in only):
                continue
            batch = quick if args.quick else full
            row = {"net": net, "mode": mode, "batch": batch}
            if why:
                row["error"] = why
            else:
                try:
                    seconds, warm = time_measure(net, mode, batch, variant, device, warmup, repeats)
                    m = median(seconds)
                    row.update(median_s=m, min_s=min(seconds), max_s=max(seconds), repeats=len(seconds), warmup_s=warm,
                               value=m * 1e3 if mode == "latency" else batch / m,
                               unit="ms" if mode == "latency" else "images/s")
                except Exception as e:  # a measure that fails (memory, compile error) is reported; the rest still run
                    row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                    failed = True
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
            rows[mid] = row
            text = row["error"] if "error" in row else f"{row['value']:12.1f} {row['unit']}  (median {row['median_s'] * 1e3:.2f} ms, warm-up {row['warmup_s']:.1f} s)"
            print(f"  {variant:<13} {mid:<16} {text}", flush=True)
            write()
    write()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
