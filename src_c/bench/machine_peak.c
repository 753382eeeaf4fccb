/* Machine ceilings for the benchmark suite's roofline: single-core FP32 FMA
 * throughput per ISA, and stream-triad memory bandwidth. */
#include "../common/internal.h"

#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 12 independent accumulator chains hide the 4-cycle FMA latency on 2 ports. */
#define CHAINS 12

static double fma_scalar(long iters) {
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (float)i;
    const float a = 0.999999f, b = 1e-7f;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * a + b;
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += acc[i];
    return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static double fma_avx2(long iters) {
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx512f"))) static double fma_avx512(long iters) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}
#endif

double gconv_bench_fma_gflops(gconv_isa isa, long iters) {
    if ((unsigned)isa >= GCONV_ISA_COUNT || !(gconv_cpu_isa_mask() & (1u << isa)) || iters <= 0) return -1.0;
    int lanes = 1;
    volatile double sink;
    double t0 = now_s();
    switch (isa) {
#if defined(__x86_64__)
    case GCONV_ISA_AVX2: lanes = 8; sink = fma_avx2(iters); break;
    case GCONV_ISA_AVX512: lanes = 16; sink = fma_avx512(iters); break;
#endif
    default: sink = fma_scalar(iters); break;
    }
    (void)sink;
    const double dt = now_s() - t0;
    return 2.0 * CHAINS * lanes * (double)iters / dt * 1e-9;
}

double gconv_bench_triad_gbps(size_t floats, int reps, int num_threads) {
    if (floats == 0 || floats > SIZE_MAX / (3 * sizeof(float)) || reps <= 0 || num_threads < 1) return -1.0;
    float *a = gconv_aligned_floats(floats);
    float *b = gconv_aligned_floats(floats);
    float *c = gconv_aligned_floats(floats);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return -1.0;
    }
    const int64_t n = (int64_t)floats;
    (void)num_threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads)
#endif
    for (int64_t i = 0; i < n; i++) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f; /* first touch by the owner thread */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads)
#endif
        for (int64_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
        const double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return 3.0 * (double)floats * sizeof(float) / best * 1e-9;
}

/* The fixed cost of threading, which the planner's per-step thread counts weigh work against:
 * microseconds per empty `parallel` region entered back to back (waking the team and joining it),
 * and per barrier inside one region (what a step would cost if a whole forward ran in one region).
 * Median of 5 batches of `reps`. Returns -1 on bad arguments; 0 for both in a build without OpenMP. */
static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gconv_bench_fork_join_us(int num_threads, int reps, double *region_us, double *barrier_us) {
    if (num_threads < 1 || reps < 1 || !region_us || !barrier_us) return -1;
    *region_us = *barrier_us = 0.0;
#ifdef _OPENMP
    enum { BATCHES = 5 };
    double region[BATCHES], barrier[BATCHES];
    volatile int sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_s();
        for (int r = 0; r < reps; r++) {
#pragma omp parallel num_threads(num_threads)
            sink = omp_get_thread_num();
        }
        region[b] = (now_s() - t0) / reps * 1e6;
        t0 = now_s();
#pragma omp parallel num_threads(num_threads)
        for (int r = 0; r < reps; r++) {
#pragma omp barrier
        }
        barrier[b] = (now_s() - t0) / reps * 1e6;
    }
    (void)sink;
    qsort(region, BATCHES, sizeof(double), cmp_double);
    qsort(barrier, BATCHES, sizeof(double), cmp_double);
    *region_us = region[BATCHES / 2];
    *barrier_us = barrier[BATCHES / 2];
#endif
    return 0;
}
