/* f32-winograd-4x4-3x3-avx2: the F(4x4, 3x3) transforms (winograd_simd.h) over groups of 8
 * slots: 4 chunks of 2 tiles. The 4-phase split of 32 columns is a 4x4 transpose in each 128-bit
 * lane (12 shuffles), the interleave back its inverse. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx2.h"

#define TILE 4
#define R 3
#define WINO_IN_FN gconv_f32_winograd_in_4x4_3x3__avx2
#define WINO_OUT_FN gconv_f32_winograd_out_4x4_3x3__avx2

static inline void split_columns(const __m256 t[5], __m256 d[6]) {
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    /* t[0..3]: tiles (0,1) (2,3) (4,5) (6,7), 4 phases each */
    const __m256 r0 = _mm256_permute2f128_ps(t[0], t[2], 0x20); /* t0 | t4 */
    const __m256 r1 = _mm256_permute2f128_ps(t[0], t[2], 0x31); /* t1 | t5 */
    const __m256 r2 = _mm256_permute2f128_ps(t[1], t[3], 0x20); /* t2 | t6 */
    const __m256 r3 = _mm256_permute2f128_ps(t[1], t[3], 0x31); /* t3 | t7 */
    const __m256 u0 = _mm256_unpacklo_ps(r0, r1), u1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 u2 = _mm256_unpacklo_ps(r2, r3), u3 = _mm256_unpackhi_ps(r2, r3);
    d[0] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
    d[1] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
    d[2] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
    d[3] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
    /* columns 4t+4, 4t+5: phases 0 and 1 of the next lane, lane 7's from the spill */
    const __m256 e0 = _mm256_permutevar8x32_ps(t[4], _mm256_setzero_si256());
    const __m256 e1 = _mm256_permutevar8x32_ps(t[4], _mm256_set1_epi32(1));
    d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot1), e0, 0x80);
    d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot1), e1, 0x80);
}

static inline void interleave_columns(const __m256 y[4], __m256 row[4]) {
    /* 4x4 transposes per 128-bit lane, then lanes regrouped */
    const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
    const __m256 u2 = _mm256_unpacklo_ps(y[2], y[3]), u3 = _mm256_unpackhi_ps(y[2], y[3]);
    const __m256 r0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0)); /* t0 | t4 */
    const __m256 r1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2)); /* t1 | t5 */
    const __m256 r2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0)); /* t2 | t6 */
    const __m256 r3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2)); /* t3 | t7 */
    row[0] = _mm256_permute2f128_ps(r0, r1, 0x20);
    row[1] = _mm256_permute2f128_ps(r2, r3, 0x20);
    row[2] = _mm256_permute2f128_ps(r0, r1, 0x31);
    row[3] = _mm256_permute2f128_ps(r2, r3, 0x31);
}

#include "winograd_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
