/* Small AVX-512 helpers the kernels share. Include after the file's target pragma and <immintrin.h>. */
#ifndef GCONV_SIMD_AVX512_H
#define GCONV_SIMD_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* max/min return their second operand when either is NaN, so NaN passes as in gconv_clampf. */
static inline __m512 clamp_ps(__m512 v, __m512 lo, __m512 hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }

/* The first n of 16 lanes (all of them for n >= 16). */
static inline __mmask16 lane_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* Lanes [begin, end) of a 16-lane vector, clipped to [0, 16]. */
static inline __mmask16 lane_range(int64_t begin, int64_t end) {
    begin = begin < 0 ? 0 : begin;
    end = end > 16 ? 16 : end;
    if (end <= begin) return 0;
    const uint32_t upto_end = end >= 16 ? 0xFFFFu : (1u << end) - 1u;
    return (__mmask16)(upto_end & ~((1u << begin) - 1u));
}

#endif
