/* f32-gdc-avx512: global depthwise conv (1x1 output, kernel == input).
 *
 * Each channel is a dot product over its contiguous plane (7x7 = 49 floats:
 * three vectors and a 1-lane masked tail), so per-channel work is a handful of
 * instructions and call overhead would dominate: one call covers many
 * channels, and the channels' independent reductions overlap in the core. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif

#include <immintrin.h>

#include "../common/internal.h"

void gconv_f32_gdc__avx512(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                           float *out, const gconv_minmax *clamp) {
    const size_t tail = taps % 16;
    const __mmask16 tail_mask = (__mmask16)((1u << tail) - 1u);
    for (size_t c = 0; c < channels; c++) {
        const float *x = in + c * in_stride;
        const float *t = w + c * (taps + 1) + 1;
        /* Two chains so that planes of 2+ vectors do not wait on one FMA latency. */
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= taps; i += 32) {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(t + i), _mm512_loadu_ps(x + i), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(t + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
        }
        if (i + 16 <= taps) {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(t + i), _mm512_loadu_ps(x + i), acc0);
            i += 16;
        }
        if (tail)
            acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask, t + i), _mm512_maskz_loadu_ps(tail_mask, x + i),
                                   acc1);
        out[c] = gconv_clampf(t[-1] + _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)), clamp);
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
