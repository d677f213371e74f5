#!/usr/bin/env python3
"""OpenBLAS SGEMM through numpy, answering GemmBench: reads "M K N seconds" lines on stdin, prints
"wall_gflops cpu_gflops" per line.

Computes x[M,K] @ w[N,K].T in float32, the same product as Backend.linear. wall: best call in the time
budget; cpu: flops per second of process CPU time over the timed calls (insensitive to other load).
"""
import sys
import time

import numpy as np

rng = np.random.default_rng(0)
for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    m, k, n = (int(v) for v in parts[:3])
    budget = float(parts[3]) if len(parts) > 3 else 2.0
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    y = np.empty((m, n), dtype=np.float32)
    np.matmul(x, w.T, out=y)  # warm-up
    best = float("inf")
    start = time.perf_counter()
    cpu0 = time.process_time()
    reps = 0
    while reps < 3 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        np.matmul(x, w.T, out=y)
        best = min(best, time.perf_counter() - t0)
        reps += 1
    cpu = time.process_time() - cpu0
    flops = 2.0 * m * n * k
    print(f"{flops / best / 1e9:.1f} {flops * reps / cpu / 1e9:.1f}", flush=True)
