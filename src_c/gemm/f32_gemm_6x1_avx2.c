/* f32-gemm-6x1-avx2: one output pixel per call (see f32_gemm_4x1_scalar.c) on 6-wide panels:
 * each k's 6 weights are one masked ymm load (the mask keeps the last load inside the panel). */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"

#define MR 6

void gconv_f32_gemm_6x1__avx2(size_t mr, size_t nc, size_t kc, const float *w, const float *b, size_t b_stride,
                              float *c, size_t c_stride, const gconv_minmax *clamp) {
    (void)nc;
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    __m256 acc0 = _mm256_maskload_ps(w, six), acc1 = _mm256_setzero_ps(), acc2 = acc1, acc3 = acc1;
    const float *wk = w + MR;
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, wk += 4 * MR, b += 4 * b_stride) {
        acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(wk, six), _mm256_set1_ps(b[0]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(wk + MR, six), _mm256_set1_ps(b[b_stride]), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_maskload_ps(wk + 2 * MR, six), _mm256_set1_ps(b[2 * b_stride]), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_maskload_ps(wk + 3 * MR, six), _mm256_set1_ps(b[3 * b_stride]), acc3);
    }
    for (; k < kc; k++, wk += MR, b += b_stride)
        acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(wk, six), _mm256_set1_ps(b[0]), acc0);
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    const __m256 v = _mm256_min_ps(_mm256_set1_ps(clamp->max), _mm256_max_ps(_mm256_set1_ps(clamp->min), sum));
    float out[8];
    _mm256_storeu_ps(out, v);
    for (size_t i = 0; i < mr; i++) c[i * c_stride] = out[i];
}
