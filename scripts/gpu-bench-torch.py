#!/usr/bin/env python3
"""Times the shapes of GpuBench's BENCH lines with PyTorch (cuBLAS via F.linear, SDPA) in bf16 on the same
GPU and prints them beside the zimage4j figures with the ratio (torch time / zimage4j time: 1.0 = parity).

usage: gpu-bench-torch.py JAVA_BENCH_LOG
"""
import sys
import torch
import torch.nn.functional as F

WARMUP, REPS = 3, 20


def median_ms(fn):
    for _ in range(WARMUP):
        fn()
    evs = [torch.cuda.Event(enable_timing=True) for _ in range(REPS + 1)]
    evs[0].record()
    for i in range(REPS):
        fn()
        evs[i + 1].record()
    torch.cuda.synchronize()
    ts = sorted(evs[i].elapsed_time(evs[i + 1]) for i in range(REPS))
    return ts[len(ts) // 2]


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith("BENCH\t") and not l.startswith("BENCH\tname")]
    torch.manual_seed(0)
    dev = "cuda"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print(f"{'case':<16}{'shape':<26}{'zimage4j ms':>12}{'TFLOP/s':>9}{'torch ms':>10}{'TFLOP/s':>9}{'ratio':>7}  torch op")
    for _, name, kind, m, n, k, ms, tf in rows:
        m, n, k, ms, tf = int(m), int(n), int(k), float(ms), float(tf)
        if kind in ("linear", "swiglu"):
            nn_ = n * (2 if kind == "swiglu" else 1)
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            w = torch.randn(nn_, k, device=dev, dtype=torch.bfloat16) * 0.05
            t = median_ms(lambda: F.linear(x, w))
            flops = 2.0 * m * nn_ * k
            op = f"F.linear bf16 [{m},{k}]x[{nn_},{k}]^T"
            shape = f"M={m} N={n} K={k}"
        else:  # attn: m = heads, n = S, k = D
            q = torch.randn(1, m, n, k, device=dev, dtype=torch.bfloat16)
            kk = torch.randn(1, m, n, k, device=dev, dtype=torch.bfloat16)
            v = torch.randn(1, m, n, k, device=dev, dtype=torch.bfloat16)
            t = median_ms(lambda: F.scaled_dot_product_attention(q, kk, v))
            flops = 4.0 * n * n * k * m
            op = "SDPA bf16"
            shape = f"H={m} S={n} D={k}"
        print(f"{name:<16}{shape:<26}{ms:>12.3f}{tf:>9.1f}{t:>10.3f}{flops / t / 1e9:>9.1f}{t / ms:>7.2f}  {op}")


if __name__ == "__main__":
    main()
