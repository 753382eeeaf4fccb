/* f32-gdc-avx2: global depthwise conv (1x1 output, kernel == input).
 *
 * Each channel is a dot product over its contiguous plane (7x7 = 49 floats:
 * six vectors and a 1-lane masked tail), so per-channel work is a handful of
 * instructions and call overhead would dominate: one call covers many
 * channels, and the channels' independent reductions overlap in the core. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#include "../common/internal.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void gconv_f32_gdc__avx2(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                         float *out, const gconv_minmax *clamp) {
    const size_t tail = taps % 8;
    /* Lanes below `tail` enabled: maskload reads nothing in the others. */
    const __m256i tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (size_t c = 0; c < channels; c++) {
        const float *x = in + c * in_stride;
        const float *t = w + c * (taps + 1) + 1;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= taps; i += 16) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(t + i), _mm256_loadu_ps(x + i), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(t + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
        }
        if (i + 8 <= taps) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(t + i), _mm256_loadu_ps(x + i), acc0);
            i += 8;
        }
        if (tail)
            acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(t + i, tail_mask), _mm256_maskload_ps(x + i, tail_mask), acc1);
        out[c] = gconv_clampf(t[-1] + hsum(_mm256_add_ps(acc0, acc1)), clamp);
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
