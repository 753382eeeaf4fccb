/* f32-winograd-2x2-5x5-avx2: the F(2x2, 5x5) transforms (winograd_simd.h) over groups of 8
 * slots: 2 chunks of 4 tiles, with the even/odd column split done by shuffles and cross-lane
 * permutes. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx2.h"

#define TILE 2
#define R 5
#define WINO_IN_FN gconv_f32_winograd_in_2x2_5x5__avx2
#define WINO_OUT_FN gconv_f32_winograd_out_2x2_5x5__avx2

static inline void split_columns(const __m256 t[3], __m256 d[6]) {
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0), rot2 = _mm256_setr_epi32(2, 3, 4, 5, 6, 7, 0, 1);
    const __m256i spill_e = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 0, 2), spill_o = _mm256_setr_epi32(1, 1, 1, 1, 1, 1, 1, 3);
    /* even / odd columns of the 16 */
    d[0] = even_floats(t[0], t[1]);
    d[1] = odd_floats(t[0], t[1]);
    /* one and two tiles on; the last lanes from the spill vector (columns 16-19) */
    const __m256 e0 = _mm256_permutevar8x32_ps(t[2], _mm256_setzero_si256());
    const __m256 e1 = _mm256_permutevar8x32_ps(t[2], _mm256_set1_epi32(1));
    const __m256 se = _mm256_permutevar8x32_ps(t[2], spill_e); /* lanes 6, 7: columns 16, 18 */
    const __m256 so = _mm256_permutevar8x32_ps(t[2], spill_o); /* 17, 19 */
    d[2] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot1), e0, 0x80);
    d[3] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot1), e1, 0x80);
    d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot2), se, 0xC0);
    d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot2), so, 0xC0);
}

static inline void interleave_columns(const __m256 y[2], __m256 row[2]) {
    const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
    row[0] = _mm256_permute2f128_ps(u0, u1, 0x20);
    row[1] = _mm256_permute2f128_ps(u0, u1, 0x31);
}

#include "winograd_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
