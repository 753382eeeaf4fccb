/* f32-winograd-2x2-5x5-avx512: the F(2x2, 5x5) transforms (winograd_simd.h) over groups of 16
 * slots: 2 chunks of 8 tiles; a 16-tile piece spills its last 4 columns into a third vector. The
 * column split is the even and odd columns (2 permutes) and those shifted by one and two tiles
 * (4 permutes); the interleave back is 2 permutes. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx512.h"

#define TILE 2
#define R 5
#define WINO_IN_FN gconv_f32_winograd_in_2x2_5x5__avx512
#define WINO_OUT_FN gconv_f32_winograd_out_2x2_5x5__avx512

static inline void split_columns(const __m512 t[3], __m512 d[6]) {
    const __m512i iev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i iod = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i ish1e = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    const __m512i ish1o = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
    const __m512i ish2e = _mm512_setr_epi32(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18);
    const __m512i ish2o = _mm512_setr_epi32(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 19);
    d[0] = _mm512_permutex2var_ps(t[0], iev, t[1]); /* column 2t */
    d[1] = _mm512_permutex2var_ps(t[0], iod, t[1]); /* column 2t+1 */
    d[2] = _mm512_permutex2var_ps(d[0], ish1e, t[2]); /* 2t+2: lane 15 from the spill */
    d[3] = _mm512_permutex2var_ps(d[1], ish1o, t[2]);
    d[4] = _mm512_permutex2var_ps(d[0], ish2e, t[2]);
    d[5] = _mm512_permutex2var_ps(d[1], ish2o, t[2]);
}

static inline void interleave_columns(const __m512 y[2], __m512 row[2]) {
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    row[0] = _mm512_permutex2var_ps(y[0], ilo, y[1]);
    row[1] = _mm512_permutex2var_ps(y[0], ihi, y[1]);
}

#include "winograd_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
