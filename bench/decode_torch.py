"""torch's best decode attention on the shapes of bench/decode.c (issue 8):
batch 8, 32 query heads, 8 KV heads, d 128, bf16, KV = 1k .. 128k, in the
same device call. Every path is timed and the fastest kept:
F.scaled_dot_product_attention with q [8,32,1,128] and k/v [8,8,KV,128]
(enable_gqa=True) under each SDPA backend that takes it, and with k/v
repeated to 32 heads beforehand (the repeat not timed). One JSON line a
case: {"case": "kv4096", "gbs": ..., "path": ...} with the bytes of K and
V (8 KV heads) read per second, medians of event-timed runs, inputs
rotated so that a case's data exceeds the L2."""
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

B, HQ, HKV, D = 8, 32, 8, 128
KVS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


def median_ms(fns, reps=30):
    for f in fns[:3]:
        f()
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        f = fns[i % len(fns)]
        a.record()
        f()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    for kv in KVS:
        case = f"kv{kv}"
        if only and only != case:
            continue
        kv_bytes = 2 * B * HKV * kv * D * 2
        nsets = max(1, (512 << 20) // kv_bytes)
        q = torch.randn(B, HQ, 1, D, device="cuda", dtype=torch.bfloat16)
        sets = [(torch.randn(B, HKV, kv, D, device="cuda", dtype=torch.bfloat16),
                 torch.randn(B, HKV, kv, D, device="cuda", dtype=torch.bfloat16)) for _ in range(nsets)]
        best = None
        paths = [("gqa-" + n.name.lower(), n) for n in
                 (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION,
                  SDPBackend.MATH)] + [("gqa-default", None)]
        for name, be in paths:
            if be == SDPBackend.MATH and kv > 16384:
                continue
            fns = [lambda k=k, v=v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True) for k, v in sets]
            try:
                if be is None:
                    ms = median_ms(fns)
                else:
                    with sdpa_kernel(be):
                        ms = median_ms(fns)
            except Exception as e:  # noqa: BLE001 - a backend that refuses the shape
                print(json.dumps({"case": case, "path": name, "error": str(e)[:160]}), file=sys.stderr)
                continue
            if best is None or ms < best[0]:
                best = (ms, name)
        # repeated heads: k/v expanded to 32 heads beforehand (reads 4x the bytes)
        if kv * B * HQ * D * 2 * 2 * nsets <= (24 << 30):
            rep = [(k.repeat_interleave(HQ // HKV, dim=1), v.repeat_interleave(HQ // HKV, dim=1)) for k, v in sets]
            fns = [lambda k=k, v=v: F.scaled_dot_product_attention(q, k, v) for k, v in rep]
            try:
                ms = median_ms(fns)
                if ms < best[0]:
                    best = (ms, "repeated-heads")
            except Exception as e:  # noqa: BLE001
                print(json.dumps({"case": case, "path": "repeated", "error": str(e)[:160]}), file=sys.stderr)
            del rep
        if best:
            gbs = kv_bytes / (best[0] * 1e-3) / 1e9
            print(json.dumps({"case": case, "gbs": round(gbs, 1), "ms": round(best[0], 5), "path": best[1]}),
                  flush=True)
        del sets
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
