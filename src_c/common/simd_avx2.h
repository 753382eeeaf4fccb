/* Small AVX2 helpers the kernels share. Include after the file's target pragma and <immintrin.h>. */
#ifndef GCONV_SIMD_AVX2_H
#define GCONV_SIMD_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* max/min return their second operand when either is NaN, so NaN passes as in gconv_clampf. */
static inline __m256 clamp_ps(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }

/* Lanes [begin, end) of an 8-lane vector as a maskload/maskstore mask, clipped to [0, 8]. */
static inline __m256i lane_range(int64_t begin, int64_t end) {
    begin = begin < 0 ? 0 : begin > 8 ? 8 : begin;
    end = end < 0 ? 0 : end > 8 ? 8 : end;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)end), lane),
                            _mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)begin - 1)));
}

/* The first n of 8 lanes (all of them for n >= 8). */
static inline __m256i lane_mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n >= 8 ? 8 : (int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
