/* f32-gemm-8x1-avx512 and f32-gemm-8x4-avx512: one to four output pixels per call (see
 * f32_gemm_4x1_scalar.c): the vectors run along the panel's 8 output channels (a ymm), four
 * independent sums over k hide the FMA latency. Written with intrinsics: GCC's own vectorization
 * of the plain loop turned strided b into a gather-like sequence 20x slower.
 *
 * 8x4 takes the pixels past a GEMM's last whole 16-pixel vector (10x10's 100 = 6 x 16 + 4;
 * 14x14's 196 runs in 49-pixel calls of the wide kernel instead: gemm_whole_calls in conv_plan.c), where
 * the wide kernel would spend 8 zmm FMAs per k on a quarter-full vector: here each k's weight
 * vector is loaded once for all the columns, 4 ymm FMAs for 4 pixels. Every column is the 8x1
 * sum in the same order, so a pixel gets the same bits from either entry point. */
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"

#define MR 8

static inline __attribute__((always_inline)) void gemm_cols(const int NC, size_t mr, size_t kc, const float *w,
                                                            const float *b, size_t b_stride, float *c,
                                                            size_t c_stride, const gconv_minmax *clamp) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int j = 0; j < NC; j++) {
        acc[j][0] = _mm256_loadu_ps(w);
        acc[j][1] = acc[j][2] = acc[j][3] = _mm256_setzero_ps();
    }
    const float *wk = w + MR;
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, wk += 4 * MR, b += 4 * b_stride) {
        /* A classifier's weights (4 MB at 1024 -> 1000) come from L3 or DRAM: request them
         * 4 KB ahead of use, beyond what the L2 streamer had in flight (1 KB and 8 KB were slower). */
        _mm_prefetch((const char *)(wk + 1024), _MM_HINT_T0);
        _mm_prefetch((const char *)(wk + 1024 + 16), _MM_HINT_T0);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const __m256 wv = _mm256_loadu_ps(wk + u * MR);
#pragma GCC unroll 4
            for (int j = 0; j < NC; j++)
                acc[j][u] = _mm256_fmadd_ps(wv, _mm256_set1_ps(b[u * b_stride + j]), acc[j][u]);
        }
    }
    for (; k < kc; k++, wk += MR, b += b_stride) {
        const __m256 wv = _mm256_loadu_ps(wk);
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++) acc[j][0] = _mm256_fmadd_ps(wv, _mm256_set1_ps(b[j]), acc[j][0]);
    }
    const __m256 lo = _mm256_set1_ps(clamp->min), hi = _mm256_set1_ps(clamp->max);
#pragma GCC unroll 4
    for (int j = 0; j < NC; j++) {
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[j][0], acc[j][1]), _mm256_add_ps(acc[j][2], acc[j][3]));
        /* max/min return their second operand when either is NaN: NaN passes like gconv_clampf. */
        float out[MR];
        _mm256_storeu_ps(out, _mm256_min_ps(hi, _mm256_max_ps(lo, sum)));
        for (size_t i = 0; i < mr; i++) c[i * c_stride + j] = out[i];
    }
}

void gconv_f32_gemm_8x1__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp) {
    (void)nc;
    gemm_cols(1, mr, kc, w, b, b_stride, c, c_stride, clamp);
}

void gconv_f32_gemm_8x4__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp) {
    switch (nc) {
    case 1: gemm_cols(1, mr, kc, w, b, b_stride, c, c_stride, clamp); break;
    case 2: gemm_cols(2, mr, kc, w, b, b_stride, c, c_stride, clamp); break;
    case 3: gemm_cols(3, mr, kc, w, b, b_stride, c, c_stride, clamp); break;
    default: gemm_cols(4, mr, kc, w, b, b_stride, c, c_stride, clamp); break;
    }
}
