"""Per-call overhead from Python of a tilejit op on a tiny tensor, against
torch.add and a Triton kernel measured in the same run (issue 7).

    python3 bench/python_overhead.py [--json bench/results/python.jsonl] [--commit SHA]

Each case calls the op B times back to back on [1, 128] f32 tensors, then
synchronizes, and divides the wall time by B; a batch is short enough that
the launch queue never fills (else every case would measure the GPU's
rate, not the host's), and the kernels are so small that the GPU waits for
the host: this is the host cost of one call. Median of many batches. Cases:
  kernel_call   tilejit.Kernel(a, b, c): the binding's hot path, output given
  torch_op      a tilejit.torch custom op, allocating its output (as torch.add)
  torch.add     torch.add(a, b)            (the peer; also out=c, for reference)
  triton        a Triton add kernel, output given
  raw_launch    tj_kernel_launch through ctypes with packed arguments: the C
                floor seen from Python (kernel_call - raw_launch is what the
                binding's checks cost)
Writes JSON lines (ratio = peer / ours: > 1 means cheaper than the peer).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import tilejit  # noqa: E402
import tilejit.torch as tjt  # noqa: E402

B, ROUNDS = 100, 200


def per_call_us(fn, rounds=ROUNDS):
    for _ in range(300):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(B):
            fn()
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) / B * 1e6)
    return statistics.median(out)


def host_ns(fn, n=100000):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e9


def triton_add():
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def add_kernel(a_ptr, b_ptr, c_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        tl.store(c_ptr + offs, tl.load(a_ptr + offs, mask=mask) + tl.load(b_ptr + offs, mask=mask),
                 mask=mask)

    return lambda a, b, c: add_kernel[(1,)](a, b, c, a.numel(), BLOCK=128)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--commit", default=os.environ.get("TJ_COMMIT"))
    args = ap.parse_args()
    commit = args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True).stdout.strip() or "unknown"
    dev = torch.cuda.get_device_name()
    a = torch.randn(1, 128, device="cuda") + 3
    b = torch.randn(1, 128, device="cuda") + 3
    c = torch.empty_like(a)
    ref = a + b

    k = tilejit.Kernel(tilejit.recipe("eltwise", op="add", dtype="f32", bm=1, bn=128))
    op = tjt.op(k.graph)
    checks = {}
    c.zero_(); k(a, b, c); checks["kernel_call"] = torch.equal(c, ref)
    checks["torch_op"] = torch.equal(op(a, b), ref)
    tri = triton_add()
    if tri:
        c.zero_(); tri(a, b, c); checks["triton"] = torch.equal(c, ref)
    for name, ok in checks.items():
        if not ok:
            print(f"python_overhead: {name} computed a wrong sum", file=sys.stderr)
            return 1

    fig = {
        "torch.add": per_call_us(lambda: torch.add(a, b)),
        "torch.add(out=)": per_call_us(lambda: torch.add(a, b, out=c)),
        "kernel_call": per_call_us(lambda: k(a, b, c)),
        "torch_op": per_call_us(lambda: op(a, b)),
    }
    if tri:
        fig["triton"] = per_call_us(lambda: tri(a, b, c))
    # The C floor: the same launch with the arguments packed once.
    buf = k._pool[0]
    syms = k.bind(a, b, c)[2]
    k._pack(buf[0], 0, a.data_ptr(), b.data_ptr(), c.data_ptr(),
            *[syms[s.name] for s in k.sig.symbols])
    launch, kp, stream = tilejit._lib.launch, k._k, torch._C._cuda_getCurrentRawStream(0)
    fig["raw_launch"] = per_call_us(lambda: launch(kp, buf[1], buf[2], buf[3], stream))
    # A second torch.add round, after the others, shows the noise of the machine.
    fig["torch.add (again)"] = per_call_us(lambda: torch.add(a, b))
    peer_torch = min(fig["torch.add"], fig["torch.add (again)"])

    date = time.strftime("%Y-%m-%d")
    rows = []

    def row(case, ours, peer, peer_value, what):
        rows.append({"case": case, "ours": round(ours, 3), "peer": peer,
                     "peer_value": round(peer_value, 3), "ratio": round(peer_value / ours, 4),
                     "unit": "us", "what": what, "device": dev, "date": date, "commit": commit})

    row("tiny_add_kernel_call", fig["kernel_call"], "torch.add", peer_torch,
        "tilejit.Kernel(a, b, c) on [1,128] f32 vs torch.add(a, b); per call, host-bound")
    rows[-1]["raw_launch_us"] = round(fig["raw_launch"], 3)
    rows[-1]["binding_us"] = round(fig["kernel_call"] - fig["raw_launch"], 3)
    row("tiny_add_torch_op", fig["torch_op"], "torch.add", peer_torch,
        "tilejit.torch custom op (allocates its output) vs torch.add(a, b)")
    if tri:
        row("tiny_add_kernel_call_vs_triton", fig["kernel_call"], "triton", fig["triton"],
            "tilejit.Kernel(a, b, c) vs a Triton add kernel launch, both with the output given")
    print(f"{'case':22s} {'us/call':>9s}")
    for name, us in fig.items():
        print(f"{name:22s} {us:9.2f}")
    parts = {"current raw stream": lambda: torch._C._cuda_getCurrentRawStream(0),
             "current device": torch._C._cuda_getDevice, "t.shape": lambda: a.shape,
             "t.dtype": lambda: a.dtype, "t.is_contiguous()": a.is_contiguous,
             "t.get_device()": a.get_device, "t.data_ptr()": a.data_ptr,
             "empty lambda": lambda: None}
    print("host cost of the hot path's pieces (ns):",
          ", ".join(f"{n} {host_ns(f):.0f}" for n, f in parts.items()))
    print(f"{'case':32s} {'ours':>8s} {'peer':>16s} {'peer us':>8s} {'ratio':>7s}")
    for r in rows:
        print(f"{r['case']:32s} {r['ours']:8.2f} {r['peer']:>16s} {r['peer_value']:8.2f} "
              f"{r['ratio']:7.3f}")
    if args.json:
        with open(args.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
