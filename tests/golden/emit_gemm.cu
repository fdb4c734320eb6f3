// schedule: generic
// tilejit generic kernel for graph 'small_gemm' (sm_80)
// graph sha256 31e12a6a33209f54a7f29cee6278d4a60d8e098cd41ed84385a15813a1d8662f
// bindings: K=48 (exact)
#include "tj/generic.cuh"

extern "C" __global__ void __launch_bounds__(128)
tj_small_gemm(const tj::f16 *__restrict__ t_a, const tj::f16 *__restrict__ t_b, float *__restrict__ t_c) {
  constexpr int NT = 128;
  extern __shared__ __align__(16) unsigned char tj_smem[];
  const int tid = threadIdx.x;
  constexpr int sym_K = 48;
  const long long t_a_d0 = 64LL;
  const long long t_a_d1 = sym_K;
  const long long t_a_s1 = 1LL;
  const long long t_a_s0 = t_a_s1 * t_a_d1;
  const long long t_b_d0 = 64LL;
  const long long t_b_d1 = sym_K;
  const long long t_b_s1 = 1LL;
  const long long t_b_s0 = t_b_s1 * t_b_d1;
  const long long t_c_d0 = 64LL;
  const long long t_c_d1 = 64LL;
  const long long t_c_s1 = 1LL;
  const long long t_c_s0 = t_c_s1 * t_c_d1;
  // node #0 (const)
  int v0;
  v0 = 0;
  // node #1 (const)
  int v1;
  v1 = 1;
  // node #2 (const)
  int v2;
  v2 = 16;
  // node #3 (symval)
  int v3;
  v3 = sym_K;
  // node #4 (binary)
  int v4;
  v4 = tj::cdiv(v3, v2);
  // node #5 (const)
  float v5[32];
  #pragma unroll 1
  for (int k = 0; k < 32; ++k) {
    const int e = k * NT + tid;
    const int i = e / 64, j = e % 64;
    (void)i; (void)j;
    const float t5 = 0.0f;
    v5[k] = t5;
  }
  float v8[32];
  #pragma unroll 1
  for (int k = 0; k < 32; ++k) {
    const int e = k * NT + tid;
    const int i = e / 64, j = e % 64;
    (void)i; (void)j;
    v8[k] = v5[k];
  }
  for (int v7 = v0; v7 < v4; v7 += v1) {
    // node #9 (load)
    float v9[8];
    {
      const long long L9_b0 = (long long)v0 * 64;
      const long long L9_b1 = (long long)v7 * 16;
      #pragma unroll
      for (int k = 0; k < 8; ++k) {
        const int e = k * NT + tid;
        const int i = e / 16, j = e % 16;
        (void)i; (void)j;
        const long long L9_o0 = L9_b0 + i;
        const long long L9_o1 = L9_b1 + j;
        const bool inb = true && L9_o0 >= 0 && L9_o0 < t_a_d0 && L9_o1 >= 0 && L9_o1 < t_a_d1;
        const long long at = 0 + L9_o0 * t_a_s0 + L9_o1 * t_a_s1;
        v9[k] = inb ? tjg::ld(t_a + at) : 0.0f;
      }
    }
    // node #10 (load)
    float v10[8];
    {
      const long long L10_b0 = (long long)v0 * 64;
      const long long L10_b1 = (long long)v7 * 16;
      #pragma unroll
      for (int k = 0; k < 8; ++k) {
        const int e = k * NT + tid;
        const int i = e / 16, j = e % 16;
        (void)i; (void)j;
        const long long L10_o0 = L10_b0 + i;
        const long long L10_o1 = L10_b1 + j;
        const bool inb = true && L10_o0 >= 0 && L10_o0 < t_b_d0 && L10_o1 >= 0 && L10_o1 < t_b_d1;
        const long long at = 0 + L10_o0 * t_b_s0 + L10_o1 * t_b_s1;
        v10[k] = inb ? tjg::ld(t_b + at) : 0.0f;
      }
    }
    // node #11 (mma)
    float v11[32];
    __syncthreads();
    #pragma unroll
    for (int k = 0; k < 8; ++k) {
      const int e = k * NT + tid;
      const int i = e / 16, j = e % 16;
      (void)i; (void)j;
      ((float *)(tj_smem + 0))[e] = tjg::round_to<tj::f16>(v9[k]);
    }
    #pragma unroll
    for (int k = 0; k < 8; ++k) {
      const int e = k * NT + tid;
      const int i = e / 16, j = e % 16;
      (void)i; (void)j;
      ((float *)(tj_smem + 4096))[e] = tjg::round_to<tj::f16>(v10[k]);
    }
    __syncthreads();
    #pragma unroll 1
    for (int k = 0; k < 32; ++k) {
      const int e = k * NT + tid;
      const int i = e / 64, j = e % 64;
      (void)i; (void)j;
      const float *A = (const float *)tj_smem;
      const float *B = (const float *)(tj_smem + 4096);
      float acc = v8[k];
      #pragma unroll 4
      for (int r = 0; r < 16; ++r) acc = fmaf(A[i * 16 + r], B[j * 16 + r], acc);
      v11[k] = acc;
    }
    #pragma unroll 1
    for (int k = 0; k < 32; ++k) {
      const int e = k * NT + tid;
      const int i = e / 64, j = e % 64;
      (void)i; (void)j;
      v8[k] = v11[k];
    }
  }
  // node #13 (unary)
  float v13[32];
  #pragma unroll 1
  for (int k = 0; k < 32; ++k) {
    const int e = k * NT + tid;
    const int i = e / 64, j = e % 64;
    (void)i; (void)j;
    const float t13 = tj::relu(v8[k]);
    v13[k] = t13;
  }
  { // store c
    const long long S14_b0 = (long long)v0 * 64;
    const long long S14_b1 = (long long)v0 * 64;
    #pragma unroll 1
    for (int k = 0; k < 32; ++k) {
      const int e = k * NT + tid;
      const int i = e / 64, j = e % 64;
      (void)i; (void)j;
      const long long S14_o0 = S14_b0 + i;
      const long long S14_o1 = S14_b1 + j;
      const bool inb = true && S14_o0 >= 0 && S14_o0 < t_c_d0 && S14_o1 >= 0 && S14_o1 < t_c_d1;
      const long long at = 0 + S14_o0 * t_c_s0 + S14_o1 * t_c_s1;
      if (inb) tjg::st(t_c + at, v13[k]);
    }
  }
}
