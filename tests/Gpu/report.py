#!/usr/bin/env python3
"""Writes gpu-results.md for tests/Gpu/run.sh from the JSON its stages left in the results folder: each measure,
DslResNet against PyTorch eager and torch.compile, the ratio, issue 17's "must reach" with met / not met, the parity
verdict, and how each stage ended. A missing file (a stage that failed or was cut) shows as such, never as a number."""
import argparse
import json
import os
import time

# Issue 17's goals: the ratio to PyTorch eager that must be reached (None: no goal for that measure).
GOALS = {"r20_train_b128": 1.0, "r20_train_b512": None, "r20_infer_b1024": 0.8, "r20_latency_b1": 1.0,
         "r50_train_b64": 0.5, "r50_infer_b256": None}
NAMES = {"r20_train_b128": "ResNet-20 1x28x28 training", "r20_train_b512": "ResNet-20 1x28x28 training",
         "r20_infer_b1024": "ResNet-20 1x28x28 inference", "r20_latency_b1": "ResNet-20 batch-1 latency",
         "r50_train_b64": "ResNet-50 3x224x224 training", "r50_infer_b256": "ResNet-50 3x224x224 inference"}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cell(row):
    if row is None:
        return "not run"
    if "error" in row:
        return row["error"].split(":")[0] if not row["error"].startswith("n/a") else "n/a"
    v = row["value"]
    digits = 0 if v >= 100 else 1 if v >= 10 else 2 if v >= 1 else 3
    return f"{v:,.2f} ms" if row["unit"] == "ms" else f"{v:,.{digits}f}/s"


def ratio(ours, theirs):
    """Speed ratio, > 1 when DslResNet is faster (throughput ours/theirs; latency theirs/ours)."""
    if not ours or not theirs or "value" not in ours or "value" not in theirs:
        return None
    return theirs["value"] / ours["value"] if ours["unit"] == "ms" else ours["value"] / theirs["value"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out-dir", required=True)
    p.add_argument("--mode", choices=["gpu", "cpu"], required=True)
    p.add_argument("--machine", default="")
    p.add_argument("--device", default="")
    p.add_argument("--elapsed", type=int, default=0)
    a = p.parse_args()
    d = a.out_dir
    ours = load(os.path.join(d, "bench-dslresnet.json")) or {}
    eager = load(os.path.join(d, "bench-eager.json")) or {}
    compiled = load(os.path.join(d, "bench-compile.json")) or {}
    parity = load(os.path.join(d, "parity.json"))
    ours_rows = {m["id"]: m for m in ours.get("measures", [])}
    ev, cv = eager.get("variants", {}), compiled.get("variants", {})
    lines = []
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if a.mode == "cpu":
        lines += ["# GPU device script: CPU DRY RUN (not GPU numbers)", "",
                  "This is `tests/Gpu/run.sh --cpu`: the whole script run end to end on a CPU to check it works. "
                  "Quick batch sizes (in the table), few repeats, a shared machine: the numbers say nothing about "
                  "a GPU and are not comparable with the issue's goals.", ""]
    else:
        lines += ["# GPU results (issue 17)", ""]
    lines += [f"- date: {date}", f"- machine: {a.machine or 'unknown'}",
              f"- DslResNet: {ours.get('device', 'bench did not run')} (gpucheck --device {a.device}); "
              f"warm-up {ours.get('warmup', '?')}, median of {ours.get('repeats', '?')}",
              f"- PyTorch: {eager.get('torch') or compiled.get('torch') or '?'} on {eager.get('gpu') or eager.get('device') or '?'}"
              f"{'' if eager.get('gpu') else ', ' + str(eager.get('cpu_threads', '?')) + ' threads'}; cudnn.benchmark on; "
              f"FP32 = TF32 off (matmul and cuDNN), TF32 = on", ""]
    lines += ["| measure | batch | DslResNet | eager FP32 | eager TF32 | compile FP32 | compile TF32 | ratio vs eager FP32 | ratio vs eager TF32 | must reach | met |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for mid, goal in GOALS.items():
        o = ours_rows.get(mid)
        e32, etf = ev.get("eager_fp32", {}).get(mid), ev.get("eager_tf32", {}).get(mid)
        c32, ctf = cv.get("compile_fp32", {}).get(mid), cv.get("compile_tf32", {}).get(mid)
        batch = (o or e32 or {}).get("batch", "?")
        r32, rtf = ratio(o, e32), ratio(o, etf)
        if goal is None:
            verdict, need = "", "-"
        else:
            need = f"{goal:.1f}x"
            verdict = "not measured" if r32 is None else ("met" if r32 >= goal else "not met")
            if a.mode == "cpu" and r32 is not None:
                verdict += " (CPU dry run: meaningless)"
        fmt = lambda r: "-" if r is None else f"{r:.2f}x"
        lines.append(f"| {NAMES[mid]} | {batch} | {cell(o)} | {cell(e32)} | {cell(etf)} | {cell(c32)} | {cell(ctf)} | "
                     f"{fmt(r32)} | {fmt(rtf)} | {need} | {verdict} |")
    lines += ["| Convolution kernels alone | - | not measured by this script | | | | | | | 30% of FP32 peak | not measured |", "",
              "Ratios are speed ratios: above 1 means DslResNet is faster (images/s ours / theirs; for latency theirs / ours). "
              "\"met\" is judged against eager FP32, DslResNet's own precision (it uses no tensor cores).", ""]
    errors = [(mid, r["error"]) for mid, r in ours_rows.items() if "error" in r]
    for variant, rows in list(ev.items()) + list(cv.items()):
        errors += [(f"{variant} {mid}", r["error"]) for mid, r in rows.items() if "error" in r and not r["error"].startswith("n/a")]
    if errors:
        lines += ["Failed measures:", ""] + [f"- {m}: {e}" for m, e in errors] + [""]

    lines += ["## Parity", ""]
    if parity is None:
        lines += ["**not run or failed** (see the stages below and logs/parity_*.log)", ""]
    else:
        lines += [f"**{'PASS' if parity['ok'] else 'FAIL'}**: DslResNet's loss, logits (training and evaluation mode), every "
                  "parameter gradient and the running statistics after one training step, against PyTorch in float64 "
                  "(tests/Gpu/torch_parity.py; every tensor in parity-tensors.md).", "",
                  "| net | verdict | DslResNet device | PyTorch | tolerance | worst rel-L2: loss | logits | gradients | running stats | PyTorch FP32's own worst |",
                  "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
        g = lambda v: "-" if v is None else f"{v:.1e}"
        for n in parity["nets"]:
            w = n["worst"]
            lines.append(f"| {n['net']} | {'pass' if n['ok'] else 'FAIL (' + str(len(n['failures'])) + ' tensors)'} | "
                         f"{n['dslresnet_device']} | {n['torch']} on {n['torch_device']} | {n['tolerance']} | {g(w['loss'])} | "
                         f"{g(w['logits'])} | {g(w['gradients'])} | {g(w['running stats'])} | {g(n['torch_f32_worst'])} |")
        lines.append("")
    lines += ["## Stages", "", "| stage | status | seconds |", "|---|---|---:|"]
    try:
        for line in open(os.path.join(d, "stages.tsv")):
            name, status, seconds = line.rstrip("\n").split("\t")
            lines.append(f"| {name} | {status} | {seconds} |")
    except OSError:
        lines.append("| (no stages.tsv) | | |")
    lines += ["", f"Whole script: {a.elapsed} s. Logs: logs/*.log beside this file."]
    with open(os.path.join(d, "gpu-results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
