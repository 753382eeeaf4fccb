/* f32-vhswish-avx2 / f32-vprelu-avx2: see f32_vact_scalar.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"

static inline __m256 hswish(__m256 v) {
    /* max/min return their second operand on NaN, so NaN propagates like torch's */
    __m256 t = _mm256_add_ps(v, _mm256_set1_ps(3.0f));
    t = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
    return _mm256_div_ps(_mm256_mul_ps(v, t), _mm256_set1_ps(6.0f));
}

static inline __m256 prelu(__m256 v, __m256 slope) {
    const __m256 positive = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, positive);
}

void gconv_f32_vhswish__avx2(size_t n, float *x, float unused) {
    (void)unused;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, hswish(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = lane_mask(n - i);
        _mm256_maskstore_ps(x + i, m, hswish(_mm256_maskload_ps(x + i, m)));
    }
}

void gconv_f32_vprelu__avx2(size_t n, float *x, float slope) {
    const __m256 s = _mm256_set1_ps(slope);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, prelu(_mm256_loadu_ps(x + i), s));
    if (i < n) {
        const __m256i m = lane_mask(n - i);
        _mm256_maskstore_ps(x + i, m, prelu(_mm256_maskload_ps(x + i, m), s));
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
