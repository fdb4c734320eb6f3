// tilejit gemm_sm90 kernel for graph 'gemm' (sm_90a)
// graph sha256 498262c635a5e277f01ea80a3709f3188cdc9264481cfcfb2f9eccc3eac235d5
// tile 128x256x64 bf16, 4 stages of 49152 bytes, 2 consumer warpgroups, A K-major, B K-major, grouped order 8
#include "tj/generic.cuh"
#include "tj/sm90.cuh"

namespace {
constexpr int BM = 128, BN = 256, BK = 64, STAGES = 4, NWG = 2, MS = 1, WGM = BM / NWG, GROUP = 8, HQ = 2, KSTEP = 16;
constexpr unsigned A_BYTES = 16384, STAGE_BYTES = 49152;
}

extern "C" __global__ void __launch_bounds__(384, 1)
tj_gemm(const tj::bf16 *__restrict__ t_a, const tj::bf16 *__restrict__ t_b, const tj::bf16 *__restrict__ t_bias, tj::bf16 *__restrict__ t_c, const __grid_constant__ tj::sm90::tmap tm_a, const __grid_constant__ tj::sm90::tmap tm_b, const __grid_constant__ tj::sm90::tmap tm_out, int grid0, int grid1, int grid2) {
  extern __shared__ __align__(1024) unsigned char tj_smem[];
  const int tid = threadIdx.x, wg = tid / 128;
  const unsigned sbase = (tj::sm90::smem_addr(tj_smem) + 1023u) & ~1023u;
  const unsigned sout = sbase + STAGES * STAGE_BYTES;   // output boxes, 1024-aligned
  const unsigned bar_full = sout + 32768, bar_empty = bar_full + 8 * STAGES;
  (void)sout;
  const long long ntiles = (long long)grid0 * grid1 * grid2;
  constexpr int sym_M = 4096;
  constexpr int sym_N = 4096;
  constexpr int sym_K = 4096;
  const long long t_a_d0 = sym_M; (void)t_a_d0;
  const long long t_a_d1 = sym_K; (void)t_a_d1;
  const long long t_a_s1 = 1LL; (void)t_a_s1;
  const long long t_a_s0 = t_a_s1 * t_a_d1; (void)t_a_s0;
  const long long t_b_d0 = sym_N; (void)t_b_d0;
  const long long t_b_d1 = sym_K; (void)t_b_d1;
  const long long t_b_s1 = 1LL; (void)t_b_s1;
  const long long t_b_s0 = t_b_s1 * t_b_d1; (void)t_b_s0;
  const long long t_bias_d0 = sym_N; (void)t_bias_d0;
  const long long t_bias_s0 = 1LL; (void)t_bias_s0;
  const long long t_c_d0 = sym_M; (void)t_c_d0;
  const long long t_c_d1 = sym_N; (void)t_c_d1;
  const long long t_c_s1 = 1LL; (void)t_c_s1;
  const long long t_c_s0 = t_c_s1 * t_c_d1; (void)t_c_s0;
  if (tid == 0) {
    for (int s = 0; s < STAGES; ++s) {
      tj::sm90::mbar_init(bar_full + 8 * s, 1);
      tj::sm90::mbar_init(bar_empty + 8 * s, 8);   // lane 0 of each consuming warp
    }
    tj::sm90::fence_barrier_init();
  }
  __syncthreads();
  if (wg == 0) {
    tj::sm90::regs_release<40>();
    if (tid == 0) {
      tj::sm90::tma_prefetch(&tm_a);
      tj::sm90::tma_prefetch(&tm_b);
      int stage = 0;
      unsigned phase = 0;
      for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const long long per = (long long)grid0 * grid1;
        const long long rest = tile % per, width = (long long)GROUP * grid1;
        const int first = (int)(rest / width) * GROUP;
        const int rows = grid0 - first < GROUP ? grid0 - first : GROUP;
        const int q = (int)(rest % width);
        const int pid0 = first + q % rows, pid1 = q / rows, pid2 = (int)(tile / per);
        (void)pid0; (void)pid1; (void)pid2;
        const int s0 = 0; (void)s0;
        const int s1 = sym_K; (void)s1;
        const int s2 = 64; (void)s2;
        const int s3 = tj::cdiv(s1, s2); (void)s3;
        const int s4 = 1; (void)s4;
        const int s6 = pid0; (void)s6;
        const int s7 = pid1; (void)s7;
        for (int iv = s0; iv < s3; iv += s4) {
          tj::sm90::mbar_wait(bar_empty + 8 * stage, phase ^ 1);
          tj::sm90::mbar_expect_tx(bar_full + 8 * stage, STAGE_BYTES);
          const unsigned sa = sbase + stage * STAGE_BYTES, sb = sa + A_BYTES;
          tj::sm90::tma_load_2d(sa + 0, &tm_a, bar_full + 8 * stage, (int)(iv * 64 + 0), (int)(s6 * 128));
          tj::sm90::tma_load_2d(sb + 0, &tm_b, bar_full + 8 * stage, (int)(iv * 64 + 0), (int)(s7 * 256));
          if (++stage == STAGES) { stage = 0; phase ^= 1; }
        }
      }
    }
  } else {
    tj::sm90::regs_take<232>();
    const int cw = wg - 1, wl = tid & 127, w4 = wl >> 5, lane = tid & 31;
    (void)wl;
    const int wrow = cw * WGM;
    int ebuf = 0;   // which of the warpgroup's two output buffers is next
    float acc[MS][BN / 2];
    int stage = 0;
    unsigned phase = 0;
    long long turn = 0;
    for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x, ++turn) {
      const long long per = (long long)grid0 * grid1;
      const long long rest = tile % per, width = (long long)GROUP * grid1;
      const int first = (int)(rest / width) * GROUP;
      const int rows = grid0 - first < GROUP ? grid0 - first : GROUP;
      const int q = (int)(rest % width);
      const int pid0 = first + q % rows, pid1 = q / rows, pid2 = (int)(tile / per);
      (void)pid0; (void)pid1; (void)pid2;
      const int s0 = 0; (void)s0;
      const int s1 = sym_K; (void)s1;
      const int s2 = 64; (void)s2;
      const int s3 = tj::cdiv(s1, s2); (void)s3;
      const int s4 = 1; (void)s4;
      const int s6 = pid0; (void)s6;
      const int s7 = pid1; (void)s7;
      #pragma unroll
      for (int ms = 0; ms < MS; ++ms) {
        #pragma unroll
        for (int r = 0; r < BN / 2; ++r) acc[ms][r] = 0.0f;
        tj::sm90::pin_all(acc[ms]);
      }
      int prev = -1;
      for (int iv = s0; iv < s3; iv += s4) {
        tj::sm90::mbar_wait(bar_full + 8 * stage, phase);
        tj::sm90::wgmma_fence();
        const unsigned sa = sbase + stage * STAGE_BYTES, sb = sa + A_BYTES;
        #pragma unroll
        for (int kk = 0; kk < BK / KSTEP; ++kk) {
          const unsigned long long db = tj::sm90::desc_sw128(sb + (kk / 4) * 32768 + 0 * 128 + (kk % 4) * 32, 16, 1024);
          #pragma unroll
          for (int ms = 0; ms < MS; ++ms) {
            const int mo = wrow + ms * 64;
            const unsigned long long da = tj::sm90::desc_sw128(sa + (kk / 4) * 16384 + mo * 128 + (kk % 4) * 32, 16, 1024);
            tj::sm90::wgmma_bf16_m64n256k16<0, 0>(acc[ms], da, db, 1);
          }
        }
        tj::sm90::wgmma_commit();
        tj::sm90::wgmma_wait<1>();
        if (prev >= 0 && lane == 0) tj::sm90::mbar_arrive(bar_empty + 8 * prev);
        prev = stage;
        if (++stage == STAGES) { stage = 0; phase ^= 1; }
      }
      tj::sm90::wgmma_wait<0>();
      #pragma unroll
      for (int ms = 0; ms < MS; ++ms) tj::sm90::pin_all(acc[ms]);
      if (prev >= 0 && lane == 0) tj::sm90::mbar_arrive(bar_empty + 8 * prev);
      const long long L15_b0 = (long long)s7 * 256;
      const long long S20_b0 = (long long)s6 * 128;
      const long long S20_b1 = (long long)s7 * 256;
      #pragma unroll
      for (int ms = 0; ms < MS; ++ms) {
        #pragma unroll
        for (int sub = 0; sub < 4; ++sub) {
          if (wl == 0) tj::sm90::bulk_wait_read<1>();   // this buffer's last copy has read it
          tj::sm90::named_barrier(1 + cw, 128);
          #pragma unroll
          for (int qq = 0; qq < 4; ++qq) {
            float rv15[2][2];
            #pragma unroll
            for (int nb4 = 0; nb4 < 2; ++nb4)
            #pragma unroll
            for (int c = 0; c < 2; ++c) {
              const int i = wrow + ms * 64 + w4 * 16 + (lane >> 2) + (0);
              const int j = (sub * 8 + qq * HQ + nb4) * 8 + (lane & 3) * 2 + c;
              (void)i; (void)j;
              float e15;
              {
                const long long L15_o0 = L15_b0 + j;
                const bool inb = true && L15_o0 >= 0 && L15_o0 < t_bias_d0;
                const long long at = 0 + L15_o0 * t_bias_s0;
                e15 = inb ? tjg::ld(t_bias + at) : 0.0f;
              }
              rv15[nb4][c] = e15;
            }
            const unsigned sbuf = sout + cw * 16384 + ebuf * 8192;
            #pragma unroll
            for (int nb4 = 0; nb4 < HQ; ++nb4)
            #pragma unroll
            for (int h = 0; h < 2; ++h) {
              const int nbs = qq * HQ + nb4;
              const int nb = sub * 8 + nbs;
              const int i = wrow + ms * 64 + w4 * 16 + (lane >> 2) + 8 * h;
              float out[2];
              #pragma unroll
              for (int c = 0; c < 2; ++c) {
                const int j = nb * 8 + (lane & 3) * 2 + c;
                (void)i; (void)j;
                const float e14 = acc[ms][nb * 4 + h * 2 + c];
                const float e5 = 0.0f; (void)e5;
                const float e15 = rv15[nb4][c];
                const float e16 = tjg::round_to<float>(e15); (void)e16;
                const float e17 = (e14 + e16); (void)e17;
                const float e18 = tj::sm90::gelu_tanh(e17); (void)e18;
                const float e19 = e18; (void)e19;
                out[c] = 0.0f;
                out[c] = e19;
              }
              tj::sm90::st_shared_pair<tj::bf16>(sbuf + tj::sm90::swizzle128_offset(w4 * 16 + (lane >> 2) + 8 * h, nbs * 8 + (lane & 3) * 2), out[0], out[1]);
            }
          }
          const unsigned sbuf = sout + cw * 16384 + ebuf * 8192;
          tj::sm90::fence_proxy_async();   // the copy engine reads what the threads wrote
          tj::sm90::named_barrier(1 + cw, 128);
          if (wl == 0) {
            tj::sm90::tma_store_2d(&tm_out, sbuf, (int)(S20_b1 + sub * 64), (int)(S20_b0 + wrow + ms * 64));
            tj::sm90::bulk_commit();
          }
          ebuf ^= 1;
        }
      }
    }
    if (wl == 0) tj::sm90::bulk_wait<0>();   // before the block exits
  }
}
