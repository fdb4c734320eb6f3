"""torch's softmax / rms_norm / layer_norm on the shapes of bench/membound.c
(bf16, 512 MiB per input), in the same device call. One JSON line a case:
{"case": "softmax bf16 2097152x128", "gbs": ...} with bytes read + written
(x in, y out) per second."""
import json
import sys

import torch

INPUT = 512 << 20


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
    n = INPUT // 2
    x_all = torch.rand(n, device="cuda", dtype=torch.bfloat16) * 4 - 2
    widths = (128, 1024, 4096, 8192, 16384, 32768, 65536)
    for name in ("softmax", "rmsnorm", "layernorm"):
        for cols in widths:
            if cols == 65536 and name != "softmax":
                continue
            rows = n // cols
            x = x_all[: rows * cols].view(rows, cols)
            w = torch.rand(cols, device="cuda", dtype=torch.bfloat16)
            b = torch.rand(cols, device="cuda", dtype=torch.bfloat16)
            if name == "softmax":
                fn = lambda: torch.softmax(x, dim=-1)
            elif name == "rmsnorm":
                fn = lambda: torch.nn.functional.rms_norm(x, (cols,), w, 1e-5)
            else:
                fn = lambda: torch.nn.functional.layer_norm(x, (cols,), w, b, 1e-5)
            try:
                ms = median_ms(fn)
                gbs = 2.0 * rows * cols * 2 / (ms * 1e-3) / 1e9
                print(json.dumps({"case": f"{name} bf16 {rows}x{cols}", "gbs": round(gbs, 1)}), flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                print(json.dumps({"case": f"{name} bf16 {rows}x{cols}", "error": str(e)[:200]}), file=sys.stderr)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
