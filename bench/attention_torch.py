"""torch's peers for bench/attention.c, measured in the same device call:
SDPA with the cuDNN and with the flash backend on the FlashAttention-3
paper's sweep (bf16, 16k tokens a batch, hidden 2048, N 512..16384,
d 64/128/256, causal and not). q, k, v are [batch, N, heads, d] tensors
seen as [batch, heads, N, d] (the layout frameworks pass). Prints one JSON
line per (case, peer): {"case", "peer", "tflops"}; a backend that cannot
run a case prints its error on stderr."""
import json
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, reps=20):
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
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    backends = (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION))
    for d in (64, 128, 256):
        for causal in (False, True):
            for n in (512, 1024, 2048, 4096, 8192, 16384):
                case = "d%d-n%d-%s" % (d, n, "causal" if causal else "full")
                if not case.startswith(only):
                    continue
                b, h = 16384 // n, 2048 // d
                q, k, v = (torch.rand(b, n, h, d, device="cuda", dtype=torch.bfloat16).mul_(2).sub_(1)
                           .transpose(1, 2) for _ in range(3))
                flop = 4.0 * b * h * n * n * d * (0.5 if causal else 1.0)
                for name, backend in backends:
                    try:
                        with sdpa_kernel(backend):
                            f = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                                q, k, v, is_causal=causal)
                            ms = median_ms(f)
                        print(json.dumps({"case": case, "peer": name, "tflops": flop / ms / 1e9}), flush=True)
                    except Exception as e:  # a backend that does not take this case
                        print(json.dumps({"case": case, "peer": name, "error": str(e)[:200]}), file=sys.stderr)
                del q, k, v


if __name__ == "__main__":
    main()
