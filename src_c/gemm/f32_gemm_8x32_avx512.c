/* f32-gemm-8x32-avx512: 8 output channels x 32 pixels per call, 16 zmm
 * accumulators. Weights come as an 8-wide packed panel (bias first), pixels
 * as rows of b. Partial tiles use masked loads/stores: nothing past nc columns
 * is touched, because b and c may be the user's NumPy buffers. */
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx512.h"

#define MR 8

void gconv_f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                 size_t b_stride, float *c, size_t c_stride,
                                 const gconv_minmax *clamp) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_set1_ps(w[i]);
    const float *wk = w + MR;
    if (nc == 32) {
        for (size_t k = 0; k < kc; k++, wk += MR, b += b_stride) {
            const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                const __m512 a = _mm512_set1_ps(wk[i]);
                acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);
            }
        }
    } else {
        const __mmask16 m0 = lane_mask(nc), m1 = lane_mask(nc > 16 ? nc - 16 : 0);
        for (size_t k = 0; k < kc; k++, wk += MR, b += b_stride) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                const __m512 a = _mm512_set1_ps(wk[i]);
                acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);
            }
        }
    }
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
    const __mmask16 m0 = lane_mask(nc), m1 = lane_mask(nc > 16 ? nc - 16 : 0);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= mr) break;
        _mm512_mask_storeu_ps(c + i * c_stride, m0, clamp_ps(acc0[i], lo, hi));
        _mm512_mask_storeu_ps(c + i * c_stride + 16, m1, clamp_ps(acc1[i], lo, hi));
    }
}
