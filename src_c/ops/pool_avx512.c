/* f32-maxpool-3x3s2-avx512 and f32-avgpool-3x3s2-avx512: ShuffleNet's stem max pool and shortcut
 * average pools, and ResNet's stem pool (3x3 windows, stride 2, pad 0 or 1), 16 outputs a vector.
 *
 * A row's taps come from simd_avx512.h's s2_row_taps (two vectors and one float per row, split
 * into even and odd columns). The AVX2 row loop that GCC vectorizes from the scalar form (eltwise_loops.h)
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
            const s2_masks m = s2_columns_in_row(c0, g->in_w, n);
            __m512 acc = neg_inf;
            for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
                __m512 t[3];
                s2_row_taps(x + (2 * oy - g->pad_top + ky) * g->in_w + c0, &m, neg_inf, t);
                acc = max_step(max_step(max_step(acc, t[0]), t[1]), t[2]);
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
            const s2_masks m = s2_columns_in_row(c0, g->in_w, n);
            /* rows x columns, both at most 3: the float product is the integer one, exactly */
            const __m512 divisor =
                _mm512_mul_ps(row_cells, ox0 == last_ox0 ? last_cells : ox0 == 0 ? first_cells : three);
            __m512 sum = zero;
            for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
                __m512 t[3];
                s2_row_taps(x + (2 * oy - g->pad_top + ky) * g->in_w + c0, &m, zero, t);
                sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(sum, t[0]), t[1]), t[2]);
            }
            _mm512_mask_storeu_ps(y + oy * g->out_w + ox0, lane_mask((size_t)n), _mm512_div_ps(sum, divisor));
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
