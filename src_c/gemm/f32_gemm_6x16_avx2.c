/* f32-gemm-6x16-avx2: 6 output channels x 16 pixels per call, 12 ymm
 * accumulators (+2 for b, +1 broadcast: 15 of 16 registers). Partial tiles
 * use vmaskmov so that nothing past nc columns is read or written. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"

#define MR 6

void gconv_f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                               size_t b_stride, float *c, size_t c_stride,
                               const gconv_minmax *clamp) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm256_set1_ps(w[i]);
    const float *wk = w + MR;
    if (nc == 16) {
        for (size_t k = 0; k < kc; k++, wk += MR, b += b_stride) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
            for (int i = 0; i < MR; i++) {
                const __m256 a = _mm256_broadcast_ss(wk + i);
                acc0[i] = _mm256_fmadd_ps(a, b0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(a, b1, acc1[i]);
            }
        }
    } else {
        const __m256i m0 = lane_mask(nc), m1 = lane_mask(nc > 8 ? nc - 8 : 0);
        for (size_t k = 0; k < kc; k++, wk += MR, b += b_stride) {
            const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
            for (int i = 0; i < MR; i++) {
                const __m256 a = _mm256_broadcast_ss(wk + i);
                acc0[i] = _mm256_fmadd_ps(a, b0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(a, b1, acc1[i]);
            }
        }
    }
    const __m256 lo = _mm256_set1_ps(clamp->min), hi = _mm256_set1_ps(clamp->max);
    const __m256i m0 = lane_mask(nc), m1 = lane_mask(nc > 8 ? nc - 8 : 0);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= mr) break;
        _mm256_maskstore_ps(c + i * c_stride, m0, clamp_ps(acc0[i], lo, hi));
        _mm256_maskstore_ps(c + i * c_stride + 8, m1, clamp_ps(acc1[i], lo, hi));
    }
}
