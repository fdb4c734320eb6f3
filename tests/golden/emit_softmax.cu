// schedule: generic
// tilejit generic kernel for graph 'small_softmax' (sm_90a)
// graph sha256 e4ebaebd7e6881f3e7ec276ecef18973d17efd424bd6f5ff6afbdcf9357932cc
// bindings: rows (dynamic) cols=100 (exact)
#include "tj/generic.cuh"

extern "C" __global__ void __launch_bounds__(128)
tj_small_softmax(const tj::bf16 *__restrict__ t_x, tj::bf16 *__restrict__ t_y, int sym_rows) {
  constexpr int NT = 128;
  extern __shared__ __align__(16) unsigned char tj_smem[];
  const int tid = threadIdx.x;
  constexpr int sym_cols = 100;
  const long long t_x_d0 = sym_rows;
  const long long t_x_d1 = sym_cols;
  const long long t_x_s1 = 1LL;
  const long long t_x_s0 = t_x_s1 * t_x_d1;
  const long long t_y_d0 = sym_rows;
  const long long t_y_d1 = sym_cols;
  const long long t_y_s1 = 1LL;
  const long long t_y_s0 = t_y_s1 * t_y_d1;
  // node #0 (program_id)
  int v0;
  v0 = (int)blockIdx.x;
  // node #1 (const)
  int v1;
  v1 = 0;
  // node #2 (load)
  float v2[4];
  {
    const long long L2_b0 = (long long)v0 * 4;
    const long long L2_b1 = (long long)v1 * 100;
    #pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int e = k * NT + tid;
      if (e >= 400) break;
      const int i = e / 100, j = e % 100;
      (void)i; (void)j;
      const long long L2_o0 = L2_b0 + i;
      const long long L2_o1 = L2_b1 + j;
      const bool inb = true && L2_o0 >= 0 && L2_o0 < t_x_d0 && L2_o1 >= 0 && L2_o1 < t_x_d1;
      const long long at = 0 + L2_o0 * t_x_s0 + L2_o1 * t_x_s1;
      v2[k] = inb ? tjg::ld(t_x + at) : __int_as_float((int)0xff800000);
    }
  }
  // %row (cast)
  float v_row[4];
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    const float t3 = tjg::round_to<float>(v2[k]);
    v_row[k] = t3;
  }
  // node #4 (reduce)
  float v4[1];
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    ((float *)(tj_smem + 0))[e] = v_row[k];
  }
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 1; ++k) {
    const int e = k * NT + tid;
    if (e >= 4) break;
    const int i = e / 1, j = e % 1;
    (void)i; (void)j;
    float acc = -__int_as_float(0x7f800000);
    #pragma unroll 4
    for (int r = 0; r < 100; ++r) {
      acc = tjg::max(acc, ((const float *)tj_smem)[i * 100 + r]);
    }
    v4[k] = acc;
  }
  // node #5 (binary)
  float b0[4];
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 1; ++k) {
    const int e = k * NT + tid;
    if (e >= 4) break;
    const int i = e / 1, j = e % 1;
    (void)i; (void)j;
    ((float *)tj_smem)[e] = v4[k];
  }
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    b0[k] = ((const float *)tj_smem)[i * 1 + 0];
  }
  // node #6 (unary)
  float v6[4];
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    const float t5 = (v_row[k] - b0[k]);
    const float t6 = tj::exp(t5);
    v6[k] = t6;
  }
  // node #7 (reduce)
  float v7[1];
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    ((float *)(tj_smem + 0))[e] = v6[k];
  }
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 1; ++k) {
    const int e = k * NT + tid;
    if (e >= 4) break;
    const int i = e / 1, j = e % 1;
    (void)i; (void)j;
    float acc = 0.0f;
    #pragma unroll 4
    for (int r = 0; r < 100; ++r) {
      acc = acc + ((const float *)tj_smem)[i * 100 + r];
    }
    v7[k] = acc;
  }
  // %probs (binary)
  float v_probs[4];
  float b1[4];
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 1; ++k) {
    const int e = k * NT + tid;
    if (e >= 4) break;
    const int i = e / 1, j = e % 1;
    (void)i; (void)j;
    ((float *)tj_smem)[e] = v7[k];
  }
  __syncthreads();
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    b1[k] = ((const float *)tj_smem)[i * 1 + 0];
  }
  #pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int e = k * NT + tid;
    if (e >= 400) break;
    const int i = e / 100, j = e % 100;
    (void)i; (void)j;
    const float t8 = tj::div(v6[k], b1[k]);
    v_probs[k] = t8;
  }
  { // store y
    const long long S9_b0 = (long long)v0 * 4;
    const long long S9_b1 = (long long)v1 * 100;
    #pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int e = k * NT + tid;
      if (e >= 400) break;
      const int i = e / 100, j = e % 100;
      (void)i; (void)j;
      const long long S9_o0 = S9_b0 + i;
      const long long S9_o1 = S9_b1 + j;
      const bool inb = true && S9_o0 >= 0 && S9_o0 < t_y_d0 && S9_o1 >= 0 && S9_o1 < t_y_d1;
      const long long at = 0 + S9_o0 * t_y_s0 + S9_o1 * t_y_s1;
      if (inb) tjg::st(t_y + at, v_probs[k]);
    }
  }
}
