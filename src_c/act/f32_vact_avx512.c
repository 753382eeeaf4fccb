/* f32-vhswish-avx512 / f32-vprelu-avx512: see f32_vact_scalar.c. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>

#include "../common/internal.h"

static inline __m512 hswish(__m512 v) {
    /* max/min return their second operand on NaN, so NaN propagates like torch's */
    __m512 t = _mm512_add_ps(v, _mm512_set1_ps(3.0f));
    t = _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
    return _mm512_div_ps(_mm512_mul_ps(v, t), _mm512_set1_ps(6.0f));
}

static inline __m512 prelu(__m512 v, __m512 slope) {
    const __mmask16 positive = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, _mm512_mul_ps(v, slope), v);
}

void gconv_f32_vhswish__avx512(size_t n, float *x, float unused) {
    (void)unused;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, hswish(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, hswish(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void gconv_f32_vprelu__avx512(size_t n, float *x, float slope) {
    const __m512 s = _mm512_set1_ps(slope);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, prelu(_mm512_loadu_ps(x + i), s));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, prelu(_mm512_maskz_loadu_ps(m, x + i), s));
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
