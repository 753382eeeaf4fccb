/* f32-maxpool-3x3s2-avx512 and f32-avgpool-3x3s2-avx512: ShuffleNet's stem max pool and shortcut
 * average pools, and ResNet's stem pool (3x3 windows, stride 2, pad 0 or 1), 16 outputs a vector.
 *
 * A row's 33 input columns 2o .. 2o+32 are two vectors and one float; vpermt2ps splits the vectors
 * into even and odd columns (taps kx = 0 and 1), and tap 2 is the even one moved a lane with the
 * float shifted in. The AVX2 row loop that GCC vectorizes from the scalar form (eltwise_loops.h)
 * gathers every tap with shuffles and leaves the border columns and rows to a per-pixel path; on
 * 7x7 and 14x14 planes most outputs are borders. Here borders are masked loads: a column outside
 * the row comes in as -inf (max) or +0 (avg), which changes no result: -inf never beats a value
 * and never replaces an equal one, and a sum that starts from +0 is never -0, so adding +0 leaves
 * its bits alone. Rows outside the plane are skipped. The scalar twin is the per-pixel path of
 * pool.c, which visits the taps in the same order. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f")
#endif

#include <immintrin.h>
#include <math.h>

#include "../common/simd_avx512.h"
#include "ops_internal.h"

#define LANES 16

/* Which of a block's 33 columns lie in the row: lo and hi hold columns c0 + [0, 16) and
 * c0 + 16 + [0, 16), last the one column c0 + 32; a block of n outputs uses columns up to c0 + 2n. */
typedef struct {
    __mmask16 lo, hi, last;
} block_masks;

static inline block_masks columns_in_row(int64_t c0, int64_t in_w, int64_t n) {
    const int64_t used = 2 * n + 1;
    block_masks m;
    m.lo = lane_range(-c0, in_w - c0 < used ? in_w - c0 : used);
    m.hi = lane_range(-c0 - LANES, (in_w - c0 < used ? in_w - c0 : used) - LANES);
    m.last = used > 2 * LANES && c0 + 2 * LANES >= 0 && c0 + 2 * LANES < in_w ? (__mmask16)1 : 0;
    return m;
}

/* The taps kx = 0, 1, 2 of 16 windows in one input row; masked-off columns are `fill`. */
static inline void row_taps(const float *row, const block_masks *m, __m512 fill, __m512 *t0, __m512 *t1,
                            __m512 *t2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 lo = _mm512_mask_loadu_ps(fill, m->lo, row);
    const __m512 hi = _mm512_mask_loadu_ps(fill, m->hi, row + LANES);
    const __m512 last = _mm512_mask_loadu_ps(fill, m->last, row + 2 * LANES);
    *t0 = _mm512_permutex2var_ps(lo, even, hi);
    *t1 = _mm512_permutex2var_ps(lo, odd, hi);
    *t2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(last), _mm512_castps_si512(*t0), 1));
}

/* torch's max step: v replaces acc when greater or NaN (vmaxps alone returns acc for a NaN v). */
static inline __m512 max_step(__m512 acc, __m512 v) {
    return _mm512_mask_mov_ps(_mm512_max_ps(v, acc), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

/* Input rows of output row oy's window that lie in the plane: ky in [*ky_lo, *ky_hi). */
static inline void rows_in_plane(const gconv_pool_3x3s2_geom *g, int64_t oy, int64_t *ky_lo, int64_t *ky_hi) {
    const int64_t iy0 = 2 * oy - g->pad_top;
    *ky_lo = iy0 < 0 ? -iy0 : 0;
    *ky_hi = g->in_h - iy0 < 3 ? g->in_h - iy0 : 3;
}

void gconv_f32_maxpool_3x3s2__avx512(const gconv_pool_3x3s2_geom *g, int64_t planes, const float *x, float *y,
                                     int64_t oy_begin, int64_t oy_end) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    for (int64_t plane = 0; plane < planes; plane++, x += in_plane, y += out_plane)
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        int64_t ky_lo, ky_hi;
        rows_in_plane(g, oy, &ky_lo, &ky_hi);
        for (int64_t ox0 = 0; ox0 < g->out_w; ox0 += LANES) {
            const int64_t n = g->out_w - ox0 < LANES ? g->out_w - ox0 : LANES;
            const int64_t c0 = 2 * ox0 - g->pad_left;
            const block_masks m = columns_in_row(c0, g->in_w, n);
            __m512 acc = neg_inf;
            for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
                __m512 t0, t1, t2;
                row_taps(x + (2 * oy - g->pad_top + ky) * g->in_w + c0, &m, neg_inf, &t0, &t1, &t2);
                acc = max_step(max_step(max_step(acc, t0), t1), t2);
            }
            _mm512_mask_storeu_ps(y + oy * g->out_w + ox0, lane_mask((size_t)n), acc);
        }
    }
}

/* Column cells of the block of n <= 16 windows from output column ox0 (lanes past n: 1). */
static __m512 block_column_cells(const gconv_pool_3x3s2_geom *g, int64_t ox0) {
    const int64_t n = g->out_w - ox0 < LANES ? g->out_w - ox0 : LANES;
    float cells[LANES];
    for (int64_t j = 0; j < LANES; j++)
        cells[j] = j < n ? (float)gconv_ops_avg_extent(2 * (ox0 + j) - g->pad_left, 3, g->in_w, g->pad_right,
                                                       g->count_include_pad)
                         : 1.0f;
    return _mm512_loadu_ps(cells);
}

void gconv_f32_avgpool_3x3s2__avx512(const gconv_pool_3x3s2_geom *g, int64_t planes, const float *x, float *y,
                                     int64_t oy_begin, int64_t oy_end) {
    const __m512 zero = _mm512_setzero_ps();
    /* Interior windows span 3 columns; only the first and the last block can hold a border window
     * (computed once per call: per row, they cost more than the row's sums on 14x14 planes). */
    const int64_t last_ox0 = (g->out_w - 1) / LANES * LANES;
    const __m512 three = _mm512_set1_ps(3.0f), first_cells = block_column_cells(g, 0),
                 last_cells = block_column_cells(g, last_ox0);
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    for (int64_t plane = 0; plane < planes; plane++, x += in_plane, y += out_plane)
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        int64_t ky_lo, ky_hi;
        rows_in_plane(g, oy, &ky_lo, &ky_hi);
        const __m512 row_cells = _mm512_set1_ps(
            (float)gconv_ops_avg_extent(2 * oy - g->pad_top, 3, g->in_h, g->pad_bottom, g->count_include_pad));
        for (int64_t ox0 = 0; ox0 < g->out_w; ox0 += LANES) {
            const int64_t n = g->out_w - ox0 < LANES ? g->out_w - ox0 : LANES;
            const int64_t c0 = 2 * ox0 - g->pad_left;
            const block_masks m = columns_in_row(c0, g->in_w, n);
            /* rows x columns, both at most 3: the float product is the integer one, exactly */
            const __m512 divisor =
                _mm512_mul_ps(row_cells, ox0 == last_ox0 ? last_cells : ox0 == 0 ? first_cells : three);
            __m512 sum = zero;
            for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
                __m512 t0, t1, t2;
                row_taps(x + (2 * oy - g->pad_top + ky) * g->in_w + c0, &m, zero, &t0, &t1, &t2);
                sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(sum, t0), t1), t2);
            }
            _mm512_mask_storeu_ps(y + oy * g->out_w + ox0, lane_mask((size_t)n), _mm512_div_ps(sum, divisor));
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
