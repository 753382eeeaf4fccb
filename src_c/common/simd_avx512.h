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

/* The lane-width-neutral vocabulary of templates shared with the AVX2 kernels (see simd_avx2.h). */
typedef __m512 vfloat;
typedef __mmask16 vmask;
#define VLANES 16
static inline vfloat vf_zero(void) { return _mm512_setzero_ps(); }
static inline vfloat vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vfloat vf_add(vfloat a, vfloat b) { return _mm512_add_ps(a, b); }
static inline vfloat vf_sub(vfloat a, vfloat b) { return _mm512_sub_ps(a, b); }
static inline vfloat vf_fmadd(vfloat a, vfloat b, vfloat c) { return _mm512_fmadd_ps(a, b, c); }
static inline vfloat vf_fnmadd(vfloat a, vfloat b, vfloat c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vfloat vf_loadu(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_storeu(float *p, vfloat v) { _mm512_storeu_ps(p, v); }
static inline vfloat vf_load_masked(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vf_store_masked(float *p, vmask m, vfloat v) { _mm512_mask_storeu_ps(p, m, v); }
static inline int vf_any_nan(vfloat v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }

#endif
