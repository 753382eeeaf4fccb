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

/* The even (odd) floats of a:b in order, a0 a2 .. a6 b0 b2 .. b6 (a1 a3 .. b7): stride-2 columns.
 * shuffle_ps works per 128-bit half (a0 a2 b0 b2 | a4 a6 b4 b6); a 64-bit permute restores the order. */
static inline __m256 even_floats(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline __m256 odd_floats(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The lane-width-neutral vocabulary that templates shared by the AVX2 and AVX-512 kernels are
 * written in (same names in simd_avx512.h; a file includes exactly one of the two). */
typedef __m256 vfloat;
typedef __m256i vmask;
#define VLANES 8
static inline vfloat vf_zero(void) { return _mm256_setzero_ps(); }
static inline vfloat vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vfloat vf_add(vfloat a, vfloat b) { return _mm256_add_ps(a, b); }
static inline vfloat vf_sub(vfloat a, vfloat b) { return _mm256_sub_ps(a, b); }
static inline vfloat vf_fmadd(vfloat a, vfloat b, vfloat c) { return _mm256_fmadd_ps(a, b, c); }
static inline vfloat vf_fnmadd(vfloat a, vfloat b, vfloat c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vfloat vf_loadu(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_storeu(float *p, vfloat v) { _mm256_storeu_ps(p, v); }
/* Masked-off lanes are neither read (no fault past a buffer's end) nor written; they load as 0. */
static inline vfloat vf_load_masked(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vf_store_masked(float *p, vmask m, vfloat v) { _mm256_maskstore_ps(p, m, v); }
static inline int vf_any_nan(vfloat v) { return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0; }

#endif
