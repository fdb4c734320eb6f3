// check_tiles.cuh - part of check_gpu.cu: tiles, shared memory,
// reductions, global memory and mma against CPU references.

// ---- loads, stores, exchanges, reductions --------------------------------------

struct tiles_out {
    float *load, *t, *rsum, *rmax, *csum, *cmin, *bcr, *bcc, *bcol, *brow, *scalar;
    int *isum, *imin;
    unsigned char *bany;
};

template <class TT> __device__ void write_tile(float *out, const TT &t) {
    TJ_SLOTS(s, t) if (TT::has(s)) out[TT::elem(s)] = (float)t.v[s];
}
template <class TT, class X> __device__ void write_tile_as(X *out, const TT &t) {
    TJ_SLOTS(s, t) if (TT::has(s)) out[TT::elem(s)] = (X)t.v[s];
}

TJ_CONSTEXPR int tiles_scratch_floats(int m, int n, int nt) {
    return tj::reduce_scratch(m, n, nt) > tj::transpose_scratch(m, n) ? tj::reduce_scratch(m, n, nt)
                                                                      : tj::transpose_scratch(m, n);
}

template <int M, int N, int NT>
__global__ void __launch_bounds__(NT) k_tiles(const float *X, const long long *dims, const long long *strides,
                                              long long r0, long long c0, float pad, float *Y, tiles_out o) {
    extern __shared__ __align__(16) unsigned char sm[];
    float *scratch = (float *)sm;
    const long long coords[3] = {1, 0, 0};
    tj::gview<const float> g = tj::make_gview(X, 3, dims, strides, coords, 1, 2);
    tj::tile<float, M, N, NT> t;
    tj::load(t, g, r0, c0, pad);
    write_tile(o.load, t);

    tj::tile<float, N, M, NT> tt;
    tj::transpose(tt, t, scratch);
    write_tile(o.t, tt);

    tj::tile<float, M, 1, NT> rsum, rmax;
    tj::tile<float, 1, N, NT> csum, cmin;
    tj::reduce_rows<tj::sum_op>(rsum, t, scratch);
    tj::reduce_rows<tj::max_op>(rmax, t, scratch);
    tj::reduce_cols<tj::sum_op>(csum, t, scratch);
    tj::reduce_cols<tj::min_op>(cmin, t, scratch);
    write_tile(o.rsum, rsum);
    write_tile(o.rmax, rmax);
    write_tile(o.csum, csum);
    write_tile(o.cmin, cmin);

    tj::tile<float, M, N, NT> b;
    tj::reduce_rows_bcast<tj::max_op>(b, t, scratch);
    write_tile(o.bcr, b);
    tj::reduce_cols_bcast<tj::sum_op>(b, t, scratch);
    write_tile(o.bcc, b);
    tj::broadcast(b, rsum, scratch);
    write_tile(o.bcol, b);
    tj::broadcast(b, csum, scratch);
    write_tile(o.brow, b);

    tj::tile<int, M, N, NT> ti;
    TJ_SLOTS(s, t) ti.v[s] = tj::cast<int>(t.v[s] * 100.0f);
    tj::tile<int, M, 1, NT> isum, imin;
    tj::reduce_rows<tj::sum_op>(isum, ti, (int *)scratch);
    tj::reduce_rows<tj::min_op>(imin, ti, (int *)scratch);
    write_tile_as(o.isum, isum);
    write_tile_as(o.imin, imin);
    tj::tile<bool, M, N, NT> tb;
    TJ_SLOTS(s, t) tb.v[s] = t.v[s] > 0.9f;
    tj::tile<bool, M, 1, NT> bany;
    tj::reduce_rows<tj::max_op>(bany, tb, (bool *)scratch);
    write_tile_as(o.bany, bany);

    tj::tile<float, 1, 1, NT> one;
    one.v[0] = t.v[0];
    o.scalar[threadIdx.x] = tj::to_scalar(one, scratch);

    tj::gview<float> gy = tj::make_gview(Y, 3, dims, strides, coords, 1, 2);
    tj::store(gy, r0, c0, t);
}

template <int M, int N, int NT>
static void check_tiles_shape(long long R, long long C, long long r0, long long c0, bool transposed_strides) {
    // tensor [2, R, C]; plane 1; strides row-major or column-major within the plane
    const long long rs = transposed_strides ? 1 : C + 3, cs = transposed_strides ? R + 2 : 1;
    const long long plane = transposed_strides ? (R + 2) * C : R * (C + 3);
    const long long dims[3] = {2, R, C}, strides[3] = {plane, rs, cs};
    const size_t total = (size_t)(2 * plane);
    std::vector<float> x(total), y(total, -7.0f);
    for (auto &v : x) v = unif(-1.0f, 1.0f);
    const float pad = -3.5f;
    float *dX = dev_copy(x), *dY = dev_copy(y);
    long long *dd = dev_copy(std::vector<long long>(dims, dims + 3));
    long long *ds = dev_copy(std::vector<long long>(strides, strides + 3));
    tiles_out o;
    float **fs[] = {&o.load, &o.t, &o.bcr, &o.bcc, &o.bcol, &o.brow};
    for (auto f : fs) CK(cudaMalloc(f, M * N * 4));
    CK(cudaMalloc(&o.rsum, M * 4));
    CK(cudaMalloc(&o.rmax, M * 4));
    CK(cudaMalloc(&o.csum, N * 4));
    CK(cudaMalloc(&o.cmin, N * 4));
    CK(cudaMalloc(&o.scalar, NT * 4));
    CK(cudaMalloc(&o.isum, M * 4));
    CK(cudaMalloc(&o.imin, M * 4));
    CK(cudaMalloc(&o.bany, M));
    const int smem = tiles_scratch_floats(M, N, NT) * 4;
    CK(cudaFuncSetAttribute(k_tiles<M, N, NT>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    k_tiles<M, N, NT><<<1, NT, smem>>>(dX, dd, ds, r0, c0, pad, dY, o);
    CK(cudaDeviceSynchronize());

    // reference
    std::vector<float> t(M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const long long r = r0 + i, c = c0 + j;
            t[i * N + j] = (r >= 0 && r < R && c >= 0 && c < C) ? x[plane + r * rs + c * cs] : pad;
        }
    auto close = [](double a, double b, double tol) { return std::fabs(a - b) <= tol * (1 + std::fabs(b)); };
    int bad[12] = {0};
    auto load = host_copy(o.load, M * N), tr = host_copy(o.t, M * N);
    auto bcr = host_copy(o.bcr, M * N), bcc = host_copy(o.bcc, M * N);
    auto bcol = host_copy(o.bcol, M * N), brow = host_copy(o.brow, M * N);
    auto rsum = host_copy(o.rsum, M), rmax = host_copy(o.rmax, M), csum = host_copy(o.csum, N),
         cmin = host_copy(o.cmin, N);
    auto isum = host_copy(o.isum, M), imin = host_copy(o.imin, M);
    auto bany = host_copy(o.bany, M);
    auto sc = host_copy(o.scalar, NT);
    auto yy = host_copy(dY, total);
    std::vector<double> rs_(M, 0), rm(M, -INFINITY), cs_(N, 0), cm(N, INFINITY);
    std::vector<long long> is(M, 0), im(M, INT32_MAX);
    std::vector<int> ba(M, 0);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const float v = t[i * N + j];
            rs_[i] += v;
            rm[i] = std::max(rm[i], (double)v);
            cs_[j] += v;
            cm[j] = std::min(cm[j], (double)v);
            const int iv = (int)(v * 100.0f);
            is[i] += iv;
            im[i] = std::min(im[i], (long long)iv);
            ba[i] |= v > 0.9f;
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            bad[0] += load[i * N + j] != t[i * N + j];
            bad[1] += tr[j * M + i] != t[i * N + j];
            bad[2] += bcr[i * N + j] != (float)rm[i];
            bad[3] += !close(bcc[i * N + j], cs_[j], 1e-5);
            bad[4] += bcol[i * N + j] != rsum[i];
            bad[5] += brow[i * N + j] != csum[j];
        }
    for (int i = 0; i < M; i++) {
        bad[6] += !close(rsum[i], rs_[i], 1e-5) + (rmax[i] != (float)rm[i]);
        bad[7] += (isum[i] != (int)is[i]) + (imin[i] != (int)im[i]) + (bany[i] != ba[i]);
    }
    for (int j = 0; j < N; j++) bad[8] += !close(csum[j], cs_[j], 1e-5) + (cmin[j] != (float)cm[j]);
    for (int k = 0; k < NT; k++) bad[9] += sc[k] != t[0];
    for (size_t e = 0; e < total; e++) {
        float want = y[e];
        if (e >= (size_t)plane) {
            const long long off = (long long)e - plane;
            const long long r = transposed_strides ? off % (R + 2) : off / (C + 3);
            const long long c = transposed_strides ? off / (R + 2) : off % (C + 3);
            if (r < R && c < C && r >= r0 && r < r0 + M && c >= c0 && c < c0 + N) want = x[e];
        }
        bad[10] += yy[e] != want;
    }
    static const char *what[11] = {"load",         "transpose",  "reduce_rows_bcast max", "reduce_cols_bcast sum",
                                   "broadcast col", "broadcast row", "reduce_rows sum/max", "int/bool reductions",
                                   "reduce_cols sum/min", "to_scalar", "masked store"};
    for (int k = 0; k < 11; k++) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s [%d,%d] NT=%d plane %lldx%lld at (%lld,%lld)%s", what[k], M, N, NT, R, C, r0,
                 c0, transposed_strides ? " col-major" : "");
        report(bad[k] == 0, msg, "bad %.0f", bad[k]);
    }
}

// ---- vectorized global <-> shared ------------------------------------------------

template <class T> static float host_decode(T x);
template <> float host_decode<float>(float x) { return x; }
template <> float host_decode<tj::bf16>(tj::bf16 x) { return ir_bf16_to_f32(x.bits); }
template <> float host_decode<tj::f8e4m3>(tj::f8e4m3 x) { return ir_e4m3_to_f32(x.bits); }
template <class T> static T host_encode(float x);
template <> float host_encode<float>(float x) { return x; }
template <> tj::bf16 host_encode<tj::bf16>(float x) { return tj::bf16{ir_f32_to_bf16(x)}; }
template <> tj::f8e4m3 host_encode<tj::f8e4m3>(float x) { return tj::f8e4m3{ir_f32_to_e4m3(x)}; }
template <> tj::f16 host_encode<tj::f16>(float x) { return tj::f16{ir_f32_to_f16(x)}; }
template <> tj::f8e5m2 host_encode<tj::f8e5m2>(float x) { return tj::f8e5m2{ir_f32_to_e5m2(x)}; }
template <> float host_decode<tj::f16>(tj::f16 x) { return ir_f16_to_f32(x.bits); }
template <> float host_decode<tj::f8e5m2>(tj::f8e5m2 x) { return ir_e5m2_to_f32(x.bits); }

template <int M, int N, int NT, int V, class T>
__global__ void __launch_bounds__(NT) k_vec(const T *X, long long R, long long C, long long ld, long long r0,
                                            long long c0, T *Y, float *out) {
    __shared__ __align__(16) T scratch[M * N];
    tj::gview<const T> g = {X, R, C, ld, 1, true};
    tj::tile<float, M, N, NT> t;
    tj::load_vec<V>(t, g, r0, c0, -2.0f, scratch);
    write_tile(out, t);
    tj::gview<T> gy = {Y, R, C, ld, 1, true};
    tj::store_vec<V>(gy, r0, c0, t, scratch);
}

template <int M, int N, int NT, int V, class T>
static void check_vec(const char *tname, long long R, long long C, long long ld, int shift, long long r0,
                      long long c0) {
    const size_t total = (size_t)(R * ld + 64);
    std::vector<T> x(total), y(total);
    for (auto &v : x) v = host_encode<T>(unif(-1.0f, 1.0f));
    for (auto &v : y) v = host_encode<T>(5.0f);
    T *dX = dev_copy(x), *dY = dev_copy(y);
    float *dout;
    CK(cudaMalloc(&dout, M * N * 4));
    k_vec<M, N, NT, V, T><<<1, NT>>>(dX + shift, R, C, ld, r0, c0, dY + shift, dout);
    CK(cudaDeviceSynchronize());
    auto out = host_copy(dout, M * N);
    auto yy = host_copy(dY, total);
    int bad = 0, bady = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            const long long r = r0 + i, c = c0 + j;
            const bool in = r >= 0 && r < R && c >= 0 && c < C;
            const float want = in ? host_decode(x[shift + r * ld + c]) : host_decode(host_encode<T>(-2.0f));
            bad += out[i * N + j] != want;
        }
    for (size_t e = 0; e < total; e++) {
        const long long off = (long long)e - shift, r = off / ld, c = off % ld;
        const bool in = off >= 0 && r < R && c < C && r >= r0 && r < r0 + M && c >= c0 && c < c0 + N;
        bady += host_decode(yy[e]) != host_decode(in ? x[e] : y[e]);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "load_vec/store_vec<%d> %s [%d,%d] plane %lldx%lld ld %lld +%d at (%lld,%lld)", V, tname,
             M, N, R, C, ld, shift, r0, c0);
    report(bad == 0 && bady == 0, msg, "bad load %.0f, bad store %.0f", bad, bady);
}

// ---- mma ---------------------------------------------------------------------------

template <class T> TJ_CONSTEXPR int vec_of(int cols) {
    return cols % (16 / (int)sizeof(T)) == 0 ? 16 / (int)sizeof(T) : 1;
}

template <class T, int M, int N, int K, bool TA, bool TB, int PATH, int NT>
__global__ void __launch_bounds__(NT) k_mma(const T *A, const T *B, const float *C0, float *C1, float *C2) {
    extern __shared__ __align__(16) unsigned char sm[];
    constexpr int AR = TA ? K : M, AC = TA ? M : K, BR = TB ? N : K, BC = TB ? K : N;
    constexpr int ABYTES = (AR * AC * (int)sizeof(T) + 15) / 16 * 16, BBYTES = (BR * BC * (int)sizeof(T) + 15) / 16 * 16;
    T *sa = (T *)sm, *sb = (T *)(sm + ABYTES);
    float *sc = (float *)(sm + ABYTES + BBYTES);
    tj::gview<const T> ga = {A, AR, AC, AC, 1, true}, gb = {B, BR, BC, BC, 1, true};
    tj::gview<const float> gc = {C0, M, N, N, 1, true};
    tj::tile<float, AR, AC, NT> ta;
    tj::tile<float, BR, BC, NT> tb;
    tj::tile<float, M, N, NT> tc;
    tj::load(ta, ga, 0, 0, 0.0f);
    tj::load(tb, gb, 0, 0, 0.0f);
    tj::load(tc, gc, 0, 0, 0.0f);
    tj::mma<TA, TB, PATH>(tc, ta, tb, sa, sb, sc);
    write_tile(C1, tc);
    // the same from shared operands loaded straight from global memory
    tj::load_smem_g<AR, AC, NT, vec_of<T>(AC)>(sa, AC, ga, 0, 0, T());
    tj::load_smem_g<BR, BC, NT, vec_of<T>(BC)>(sb, BC, gb, 0, 0, T());
    tj::load(tc, gc, 0, 0, 0.0f);
    __syncthreads();
    tj::mma_smem<TA, TB, K, PATH>(tc, (const T *)sa, AC, (const T *)sb, BC, sc);
    write_tile(C2, tc);
}

template <class T, int M, int N, int K, bool TA, bool TB, int PATH, int NT>
static void check_mma(const char *tname, double tol) {
    constexpr int AR = TA ? K : M, AC = TA ? M : K, BR = TB ? N : K, BC = TB ? K : N;
    std::vector<T> a(AR * AC), b(BR * BC);
    std::vector<float> c0(M * N);
    for (auto &v : a) v = host_encode<T>(unif(-2.0f, 2.0f));
    for (auto &v : b) v = host_encode<T>(unif(-2.0f, 2.0f));
    for (auto &v : c0) v = unif(-1.0f, 1.0f);
    T *dA = dev_copy(a), *dB = dev_copy(b);
    float *dC0 = dev_copy(c0), *dC1, *dC2;
    CK(cudaMalloc(&dC1, M * N * 4));
    CK(cudaMalloc(&dC2, M * N * 4));
    const int smem = (AR * AC * (int)sizeof(T) + 15) / 16 * 16 + (BR * BC * (int)sizeof(T) + 15) / 16 * 16 + M * N * 4;
    CK(cudaFuncSetAttribute(k_mma<T, M, N, K, TA, TB, PATH, NT>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    k_mma<T, M, N, K, TA, TB, PATH, NT><<<1, NT, smem>>>(dA, dB, dC0, dC1, dC2);
    CK(cudaDeviceSynchronize());
    auto c1 = host_copy(dC1, M * N), c2 = host_copy(dC2, M * N);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = c0[i * N + j], mag = std::fabs(s);
            for (int k = 0; k < K; k++) {
                const double x = host_decode(TA ? a[k * AC + i] : a[i * AC + k]);
                const double y = host_decode(TB ? b[j * BC + k] : b[k * BC + j]);
                s += x * y;
                mag += std::fabs(x * y);
            }
            worst = std::max(worst, std::fabs(c1[i * N + j] - s) / mag);
            worst = std::max(worst, std::fabs(c2[i * N + j] - s) / mag);
            if (!(std::fabs(c1[i * N + j] - s) <= tol * mag)) worst = std::max(worst, 1e9);
        }
    char msg[160];
    static const char *paths[] = {"tc", "tf32x3", "fma"};
    snprintf(msg, sizeof msg, "mma %s %s [%d,%d,%d]%s%s NT=%d (regs and smem)", paths[PATH], tname, M, N, K,
             TA ? " A^T" : "", TB ? " B^T" : "", NT);
    report(worst <= tol, msg, "worst err / sum|ab| %.3g (tol %.1g)", worst, tol);
}

template <class T> static void check_mma_type(const char *name, double tol) {
    check_mma<T, 64, 64, 64, false, false, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 64, 64, 64, false, true, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 64, 64, 64, true, false, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 64, 64, 64, true, true, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 16, 8, 32, false, false, tj::MMA_TC, 32>(name, tol);
    check_mma<T, 40, 24, 20, false, true, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 33, 17, 70, true, false, tj::MMA_TC, 96>(name, tol);
    check_mma<T, 128, 64, 32, false, true, tj::MMA_TC, 256>(name, tol);
    check_mma<T, 1, 64, 64, false, false, tj::MMA_TC, 128>(name, tol);
    check_mma<T, 64, 1, 48, false, true, tj::MMA_FMA, 128>(name, 1e-6);
}

static void check_tiles() {
    check_tiles_shape<64, 64, 128>(100, 90, 0, 0, false);
    check_tiles_shape<64, 64, 128>(100, 90, 64, 64, false);
    check_tiles_shape<37, 5, 128>(30, 7, -3, 4, true);
    check_tiles_shape<5, 300, 256>(4, 1000, 1, 900, false);
    check_tiles_shape<1, 1000, 128>(1, 999, 0, 0, false);
    check_tiles_shape<256, 1, 256>(300, 1, 100, 0, true);
    check_tiles_shape<16, 16, 32>(16, 16, 0, 0, false);
    check_tiles_shape<24, 40, 96>(20, 50, 2, 3, false);
    check_tiles_shape<128, 128, 256>(200, 200, 100, 100, false);

    check_vec<32, 64, 128, 8, tj::bf16>("bf16", 100, 70, 72, 0, 0, 0);
    check_vec<32, 64, 128, 8, tj::bf16>("bf16", 100, 70, 72, 0, 80, 64);
    check_vec<32, 64, 128, 8, tj::bf16>("bf16", 100, 70, 72, 1, 3, 5);
    check_vec<16, 32, 128, 4, float>("f32", 40, 40, 40, 0, -4, 16);
    check_vec<16, 32, 128, 4, float>("f32", 40, 37, 37, 2, 8, 8);
    check_vec<32, 64, 128, 16, tj::f8e4m3>("e4m3", 50, 100, 128, 0, 32, 64);

    check_mma_type<tj::bf16>("bf16", 2e-5);
    check_mma_type<tj::f16>("f16", 2e-5);
    check_mma_type<tj::f8e4m3>("e4m3", 2e-5);
    check_mma_type<tj::f8e5m2>("e5m2", 2e-5);
    check_mma_type<float>("f32", 4e-3);
    check_mma<float, 64, 64, 64, false, true, tj::MMA_TF32X3, 128>("f32", 2e-6);
    check_mma<float, 40, 24, 20, true, false, tj::MMA_TF32X3, 128>("f32", 2e-6);
    check_mma<float, 64, 64, 64, true, true, tj::MMA_FMA, 128>("f32", 1e-6);
    check_mma<tj::bf16, 40, 24, 20, false, false, tj::MMA_FMA, 64>("bf16", 1e-6);
}
