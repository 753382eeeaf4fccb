/* f32-gemm-8x1-avx512: one output pixel per call (see f32_gemm_4x1_scalar.c): the vectors
 * run along the panel's 8 output channels (a ymm), four independent sums over k hide the FMA
 * latency. Written with intrinsics: GCC's own vectorization of the plain loop turned strided
 * b into a gather-like sequence 20x slower. */
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"

#define MR 8

void gconv_f32_gemm_8x1__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp) {
    (void)nc;
    __m256 acc0 = _mm256_loadu_ps(w), acc1 = _mm256_setzero_ps(), acc2 = acc1, acc3 = acc1;
    const float *wk = w + MR;
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, wk += 4 * MR, b += 4 * b_stride) {
        /* A classifier's weights (4 MB at 1024 -> 1000) come from L3 or DRAM: request them
         * 1 KB ahead of use, beyond what the L2 streamer had in flight. */
        _mm_prefetch((const char *)(wk + 256), _MM_HINT_T0);
        _mm_prefetch((const char *)(wk + 256 + 16), _MM_HINT_T0);
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(wk), _mm256_set1_ps(b[0]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(wk + MR), _mm256_set1_ps(b[b_stride]), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(wk + 2 * MR), _mm256_set1_ps(b[2 * b_stride]), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(wk + 3 * MR), _mm256_set1_ps(b[3 * b_stride]), acc3);
    }
    for (; k < kc; k++, wk += MR, b += b_stride)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(wk), _mm256_set1_ps(b[0]), acc0);
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    /* max/min return their second operand when either is NaN: NaN passes like gconv_clampf. */
    const __m256 v = _mm256_min_ps(_mm256_set1_ps(clamp->max), _mm256_max_ps(_mm256_set1_ps(clamp->min), sum));
    float out[MR];
    _mm256_storeu_ps(out, v);
    for (size_t i = 0; i < mr; i++) c[i * c_stride] = out[i];
}
