"""Peers measured through torch in the same device call: SDPA attention
(cuDNN and flash backends) at the baseline's shape. Prints JSON lines."""
import json
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, reps=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    b, h, n, d = 4, 16, 4096, 128
    q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flop = 4.0 * b * h * n * n * d
    for name, backend in (("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa_flash", SDPBackend.FLASH_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                ms = median_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
            print(json.dumps({"peer": name, "case": "attention d128 N4096 b4 h16", "tflops": flop / ms / 1e9}))
        except Exception as e:  # a backend missing on this build
            print(json.dumps({"peer": name, "error": str(e)[:200]}), file=sys.stderr)


if __name__ == "__main__":
    main()
