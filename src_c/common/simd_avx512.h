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

/* ---- Stride-2 windows of 3 columns (3x3 stride-2 pools and convs), 16 outputs a vector ----
 * A row's columns c0 .. c0 + 32 are two vectors and one float: vpermt2ps splits the vectors into
 * even and odd columns (taps kx = 0 and 1), and tap 2 is the even one moved a lane with the float
 * shifted in. s2_columns_in_row says which of them lie in the row for a block of n outputs (which
 * use columns up to c0 + 2n); s2_row_taps loads them, columns outside as `fill`, or without masks
 * where m is NULL (every column c0 .. c0 + 32 in the row). */
typedef struct {
    __mmask16 lo, hi, last; /* columns c0 + [0, 16), c0 + 16 + [0, 16), c0 + 32 */
} s2_masks;

static inline s2_masks s2_columns_in_row(int64_t c0, int64_t in_w, int64_t n) {
    const int64_t used = 2 * n + 1, end = in_w - c0 < used ? in_w - c0 : used;
    s2_masks m;
    m.lo = lane_range(-c0, end);
    m.hi = lane_range(-c0 - 16, end - 16);
    m.last = used > 32 && c0 + 32 >= 0 && c0 + 32 < in_w ? (__mmask16)1 : 0;
    return m;
}

static inline __attribute__((always_inline)) void s2_row_taps(const float *row, const s2_masks *m, __m512 fill,
                                                              __m512 t[3]) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 lo = m ? _mm512_mask_loadu_ps(fill, m->lo, row) : _mm512_loadu_ps(row);
    const __m512 hi = m ? _mm512_mask_loadu_ps(fill, m->hi, row + 16) : _mm512_loadu_ps(row + 16);
    /* (a 4-byte broadcast never splits a line) */
    const __m512 last = m ? _mm512_mask_loadu_ps(fill, m->last, row + 32) : _mm512_set1_ps(row[32]);
    t[0] = _mm512_permutex2var_ps(lo, even, hi);
    t[1] = _mm512_permutex2var_ps(lo, odd, hi);
    t[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(last), _mm512_castps_si512(t[0]), 1));
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
