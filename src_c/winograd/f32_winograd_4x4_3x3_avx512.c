/* f32-winograd-4x4-3x3-avx512: the F(4x4, 3x3) transforms (winograd_simd.h) over groups of 16
 * slots: 4 chunks of 4 tiles, each chunk one vector of 16 input columns, so rows of 7 tiles
 * (28x28 outputs) share a vector two by two. The column split is 8 two-source permutes (column
 * 4t+q of tile t is lane t of phase q) plus phases 0 and 1 shifted by one tile; the interleave
 * back is 8 more. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx512.h"

#define TILE 4
#define R 3
#define WINO_IN_FN gconv_f32_winograd_in_4x4_3x3__avx512
#define WINO_OUT_FN gconv_f32_winograd_out_4x4_3x3__avx512

static inline void split_columns(const __m512 t[5], __m512 d[6]) {
    /* phases 0,1 (lanes 0-7 | 8-15) and 2,3 of tiles 0-7 from the 32 floats of two vectors */
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512i ilo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const __m512i ish0 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    const __m512i ish1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
    const __m512 x01 = _mm512_permutex2var_ps(t[0], i01, t[1]);
    const __m512 x23 = _mm512_permutex2var_ps(t[0], i23, t[1]);
    const __m512 y01 = _mm512_permutex2var_ps(t[2], i01, t[3]);
    const __m512 y23 = _mm512_permutex2var_ps(t[2], i23, t[3]);
    d[0] = _mm512_permutex2var_ps(x01, ilo, y01);
    d[1] = _mm512_permutex2var_ps(x01, ihi, y01);
    d[2] = _mm512_permutex2var_ps(x23, ilo, y23);
    d[3] = _mm512_permutex2var_ps(x23, ihi, y23);
    /* columns 4t+4, 4t+5: phases 0 and 1 of the next lane (the last tile of a piece finds them in
     * its own chunk; lane 15's come from the spill vector) */
    d[4] = _mm512_permutex2var_ps(d[0], ish0, t[4]);
    d[5] = _mm512_permutex2var_ps(d[1], ish1, t[4]);
}

static inline void interleave_columns(const __m512 y[4], __m512 row[4]) {
    /* (p0[t], p1[t]) pairs for tiles 0-7 and 8-15, then two pairs per tile into rows of 4 tiles */
    const __m512i ip_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ip_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i iq_lo = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i iq_hi = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const __m512 x01l = _mm512_permutex2var_ps(y[0], ip_lo, y[1]);
    const __m512 x01h = _mm512_permutex2var_ps(y[0], ip_hi, y[1]);
    const __m512 x23l = _mm512_permutex2var_ps(y[2], ip_lo, y[3]);
    const __m512 x23h = _mm512_permutex2var_ps(y[2], ip_hi, y[3]);
    row[0] = _mm512_permutex2var_ps(x01l, iq_lo, x23l);
    row[1] = _mm512_permutex2var_ps(x01l, iq_hi, x23l);
    row[2] = _mm512_permutex2var_ps(x01h, iq_lo, x23h);
    row[3] = _mm512_permutex2var_ps(x01h, iq_hi, x23h);
}

#include "winograd_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
