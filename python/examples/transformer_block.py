"""A small pre-norm transformer block (RMSNorm, causal grouped-query attention,
SwiGLU MLP; random weights) whose RMSNorms and attention are swapped for
tilejit's `rmsnorm` and `attention` recipes, registered as torch custom ops.
Checks the swapped block against the plain torch block and prints timings.

    python3 python/examples/transformer_block.py [--batch 4 --seq 512 --dim 1024 ...]

Needs torch and a CUDA device (and libtilejit.so: see docs/python.md).
"""
import argparse
import copy
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import tilejit
import tilejit.torch as tjt


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.op = None   # a tilejit op, once swapped in

    def forward(self, x):
        if self.op is not None:
            return self.op(x.reshape(-1, x.shape[-1]), self.weight, self.eps).view_as(x)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) \
            * self.weight


class Attention(nn.Module):
    def __init__(self, dim, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.wq = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.wk = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(heads * self.head_dim, dim, bias=False)
        self.op = None

    def forward(self, x):
        b, s, _ = x.shape
        # [batch, seq, heads, head_dim]: the layout tilejit's recipe takes.
        q = self.wq(x).view(b, s, self.heads, self.head_dim)
        k = self.wk(x).view(b, s, self.kv_heads, self.head_dim)
        v = self.wv(x).view(b, s, self.kv_heads, self.head_dim)
        if self.op is not None:
            o = self.op(q, k, v, 1 / math.sqrt(self.head_dim))
        else:
            rep = self.heads // self.kv_heads
            o = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2).repeat_interleave(rep, 1),
                v.transpose(1, 2).repeat_interleave(rep, 1), is_causal=True).transpose(1, 2)
        return self.wo(o.reshape(b, s, -1))


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, hidden):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(dim), RMSNorm(dim)
        self.attn = Attention(dim, heads, kv_heads)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        h = x + self.attn(self.norm1(x))
        n = self.norm2(h)
        return h + self.w2(F.silu(self.w1(n)) * self.w3(n))


def swap_in_tilejit(block, dtype):
    """A copy of block whose norms and attention core are tilejit ops."""
    tj = copy.deepcopy(block)
    name = tilejit.dtype(dtype).short
    norm = tjt.recipe_op("rmsnorm", dtype=name)
    for m in (tj.norm1, tj.norm2):
        m.op = norm
    a = tj.attn
    tj.attn.op = tjt.recipe_op("attention", d=a.head_dim, hq=a.heads, hkv=a.kv_heads, causal=1,
                               dtype=name)
    return tj


def time_ms(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=2816)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of both")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("transformer_block: no CUDA device", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    dtype = torch.bfloat16
    block = Block(args.dim, args.heads, args.kv_heads, args.hidden).cuda().to(dtype)
    with torch.no_grad():
        for m in (block.norm1, block.norm2):
            m.weight.uniform_(0.5, 1.5)
    tj_block = swap_in_tilejit(block, dtype)
    x = torch.randn(args.batch, args.seq, args.dim, device="cuda", dtype=dtype)

    with torch.inference_mode():
        t0 = time.perf_counter()
        out_tj = tj_block(x)   # the first call JIT-compiles (or loads from the cache)
        torch.cuda.synchronize()
        first_ms = (time.perf_counter() - t0) * 1e3
        out_ref = block(x)
        # The reference in f32 too: bf16 rounding differs between any two
        # implementations; both are judged against the f32 block.
        out_f32 = copy.deepcopy(block).float()(x.float())
        err_tj = ((out_tj.float() - out_f32).abs().max() / out_f32.abs().max()).item()
        err_torch = ((out_ref.float() - out_f32).abs().max() / out_f32.abs().max()).item()
        ok = err_tj <= max(4 * err_torch, 2e-2)
        print(f"shape: batch {args.batch} seq {args.seq} dim {args.dim} heads {args.heads} "
              f"kv_heads {args.kv_heads} ({dtype})")
        print(f"max |out - f32 block| / max |f32 block|: tilejit {err_tj:.2e}, torch "
              f"{err_torch:.2e} -> {'MATCH' if ok else 'MISMATCH'}")
        print(f"first tilejit call (JIT or cache): {first_ms:.1f} ms")
        rows = [("torch block", lambda: block(x)), ("tilejit block", lambda: tj_block(x))]
        xs = x.reshape(-1, args.dim)
        norm_w = block.norm1.weight
        rows += [("  rmsnorm torch", lambda: block.norm1(x)),
                 ("  rmsnorm tilejit", lambda: tj_block.norm1.op(xs, norm_w, 1e-6))]
        a = block.attn
        q = torch.randn(args.batch, args.seq, a.heads, a.head_dim, device="cuda", dtype=dtype)
        k = torch.randn(args.batch, args.seq, a.kv_heads, a.head_dim, device="cuda", dtype=dtype)
        v = torch.randn_like(k)
        a_tj = tj_block.attn
        rep = a.heads // a.kv_heads
        rows += [("  attention torch (sdpa)", lambda: F.scaled_dot_product_attention(
                      q.transpose(1, 2), k.transpose(1, 2).repeat_interleave(rep, 1),
                      v.transpose(1, 2).repeat_interleave(rep, 1), is_causal=True)),
                 ("  attention tilejit", lambda: a_tj.op(q, k, v, a.head_dim ** -0.5))]
        if args.compile:
            cb, ct = torch.compile(block), torch.compile(tj_block)
            rows += [("torch block, compiled", lambda: cb(x)),
                     ("tilejit block, compiled", lambda: ct(x))]
        print(f"{'what':28s} {'median ms':>10s}")
        for name, fn in rows:
            print(f"{name:28s} {time_ms(fn, args.reps):10.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
