/* f32-dwconv-generic-avx2: any kernel, stride, dilation and padding.
 *
 * Drop-in twin of gconv_f32_dwconv_generic__scalar, 8 output columns per
 * vector. Each output row is split into a left border, an interior where every
 * kx tap lands inside the input row, and a right border. Borders go through the
 * scalar point helper; the interior is vectorised along ox:
 *   stride_w == 1  one unaligned load per tap,
 *   stride_w == 2  two loads deinterleaved with a shuffle and a lane permute,
 *   otherwise      one gather per tap.
 * Partial vectors use masked loads/stores, so nothing outside the two planes is
 * ever touched (NumPy buffers have no slack after them).
 *
 * The target (AVX2 + FMA) is set per file because the build uses baseline
 * x86-64 flags.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"

#define DW_LANES 8

#if defined(__GNUC__) || defined(__clang__)
#define DW_INLINE static inline __attribute__((always_inline))
#else
#define DW_INLINE static inline
#endif

/* How the input columns of one output vector are fetched. */
typedef enum { COLS_UNIT, COLS_PAIR, COLS_GATHER } cols_mode;

/* Per output row constants of the interior loop. */
typedef struct {
    const float *in_row;  /* input row of the first kernel row inside the plane */
    const float *taps;    /* taps of that kernel row */
    int64_t rows;         /* kernel rows inside the plane; the others are padding */
    int64_t row_step;     /* floats between the input rows of ky and ky + 1 */
    int64_t kw, dw, sw, pad_left;
    __m256i gather_idx;   /* lane j -> j * stride_w (COLS_GATHER only) */
} dw_row;

static inline int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline __m256i lanes_mask(int64_t n) { /* 0 <= n <= 8 */
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Same NaN rules as gconv_clampf: max/min return their second operand when
 * either input is NaN, so a NaN sum (or NaN bound) leaves v unchanged. */
/* Input columns p[j * stride_w] for all 8 lanes. For COLS_PAIR the second
 * load reads p[15], one element past lane 7's column: the caller only takes
 * this path when that element is still inside the row. */
DW_INLINE __m256 load_cols_full(cols_mode mode, const float *p, __m256i gather_idx) {
    if (mode == COLS_UNIT) return _mm256_loadu_ps(p);
    if (mode == COLS_PAIR) return even_floats(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
    return _mm256_i32gather_ps(p, gather_idx, 4);
}

/* Same for the first n lanes (n < 8 or a pair vector at the row's end); the
 * other lanes are zero and read nothing. */
DW_INLINE __m256 load_cols_part(cols_mode mode, const float *p, __m256i gather_idx, int64_t n) {
    if (mode == COLS_UNIT) return _mm256_maskload_ps(p, lanes_mask(n));
    if (mode == COLS_PAIR) {
        /* Lanes 0..n-1 need p[0 .. 2n-2]: exactly 2n-1 floats. */
        const int64_t span = 2 * n - 1;
        const __m256 lo = _mm256_maskload_ps(p, lanes_mask(span < DW_LANES ? span : DW_LANES));
        const __m256 hi = span > DW_LANES
                              ? _mm256_maskload_ps(p + DW_LANES, lanes_mask(span - DW_LANES))
                              : _mm256_setzero_ps();
        return even_floats(lo, hi);
    }
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, gather_idx,
                                    _mm256_castsi256_ps(lanes_mask(n)), 4);
}

/* bias + sum of taps for 8 interior outputs starting at ox (n lanes valid when
 * !full). Kernel rows outside the plane are not visited: they add zero. */
DW_INLINE __m256 dw_vector(const dw_row *r, cols_mode mode, int full, int64_t ox, int64_t n,
                           __m256 vbias) {
    __m256 acc = vbias;
    const int64_t ix0 = ox * r->sw - r->pad_left;
    for (int64_t i = 0; i < r->rows; i++) {
        const float *src = r->in_row + i * r->row_step + ix0;
        const float *t = r->taps + i * r->kw;
        for (int64_t kx = 0; kx < r->kw; kx++) {
            const float *p = src + kx * r->dw;
            const __m256 x = full ? load_cols_full(mode, p, r->gather_idx)
                                  : load_cols_part(mode, p, r->gather_idx, n);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(t[kx]), x, acc);
        }
    }
    return acc;
}

/* Two neighbouring full vectors per pass: each broadcast tap feeds two
 * independent FMA chains, and short kernels (3x3: 9 taps) get more work per
 * loop trip. */
DW_INLINE void dw_vector2(const dw_row *r, cols_mode mode, int64_t ox, __m256 vbias,
                          __m256 *out0, __m256 *out1) {
    __m256 acc0 = vbias, acc1 = vbias;
    const int64_t ix0 = ox * r->sw - r->pad_left;
    const int64_t next = DW_LANES * r->sw; /* input offset of the second vector */
    for (int64_t i = 0; i < r->rows; i++) {
        const float *src = r->in_row + i * r->row_step + ix0;
        const float *t = r->taps + i * r->kw;
        for (int64_t kx = 0; kx < r->kw; kx++) {
            const float *p = src + kx * r->dw;
            const __m256 vt = _mm256_set1_ps(t[kx]);
            acc0 = _mm256_fmadd_ps(vt, load_cols_full(mode, p, r->gather_idx), acc0);
            acc1 = _mm256_fmadd_ps(vt, load_cols_full(mode, p + next, r->gather_idx), acc1);
        }
    }
    *out0 = acc0;
    *out1 = acc1;
}

/* Interior columns [ox, ox_hi) of one row. Full vectors stop at ox_full (for
 * COLS_PAIR one column earlier than ox_hi may be needed, see load_cols_full);
 * what is left goes through masked vectors. */
DW_INLINE void dw_interior(const dw_row *r, cols_mode mode, float *orow, int64_t ox,
                           int64_t ox_full, int64_t ox_hi, __m256 vbias, __m256 vmin,
                           __m256 vmax) {
    for (; ox + 2 * DW_LANES <= ox_full; ox += 2 * DW_LANES) {
        __m256 a, b;
        dw_vector2(r, mode, ox, vbias, &a, &b);
        _mm256_storeu_ps(orow + ox, clamp_ps(a, vmin, vmax));
        _mm256_storeu_ps(orow + ox + DW_LANES, clamp_ps(b, vmin, vmax));
    }
    for (; ox + DW_LANES <= ox_full; ox += DW_LANES) {
        const __m256 v = dw_vector(r, mode, 1, ox, DW_LANES, vbias);
        _mm256_storeu_ps(orow + ox, clamp_ps(v, vmin, vmax));
    }
    for (; ox < ox_hi; ox += DW_LANES) {
        const int64_t n = ox_hi - ox < DW_LANES ? ox_hi - ox : DW_LANES;
        const __m256 v = dw_vector(r, mode, 0, ox, n, vbias);
        _mm256_maskstore_ps(orow + ox, lanes_mask(n), clamp_ps(v, vmin, vmax));
    }
}

/* One past the last ox whose taps all read columns <= in_w - 1 - slack. */
static inline int64_t interior_end(const gconv_dw_geom *g, int64_t slack) {
    return floor_div(g->in_w - 1 - slack + g->pad_left - (g->kernel_w - 1) * g->dilation_w,
                     g->stride_w) + 1;
}

static void border_cols(const gconv_dw_geom *g, const float *in, const float *w, float *orow,
                        int64_t oy, int64_t ox_begin, int64_t ox_end, const gconv_minmax *clamp) {
    for (int64_t ox = ox_begin; ox < ox_end; ox++)
        orow[ox] = gconv_clampf(gconv_dw_point_scalar(g, in, w, oy, ox), clamp);
}

void gconv_f32_dwconv_generic__avx2(const gconv_dw_geom *g, const float *in, const float *w,
                                    float *out, int64_t oy_begin, int64_t oy_end,
                                    const gconv_minmax *clamp) {
    const int64_t sw = g->stride_w;

    /* Columns whose kx taps all land inside [0, in_w). */
    const int64_t ox_lo = gconv_clamp_i64(-floor_div(-g->pad_left, sw), 0, g->out_w);
    const int64_t ox_hi = gconv_clamp_i64(interior_end(g, 0), ox_lo, g->out_w);

    const cols_mode mode = sw == 1 ? COLS_UNIT : (sw == 2 ? COLS_PAIR : COLS_GATHER);
    /* Full pair vectors read one float past their last column. */
    int64_t ox_full = ox_hi;
    if (mode == COLS_PAIR) ox_full = gconv_clamp_i64(interior_end(g, 1), ox_lo, ox_hi);
    /* Gather offsets j * stride_w are int32; a stride too large for that (never
     * seen in practice) leaves the interior to the scalar path. */
    const int gather_ok = sw <= INT32_MAX / DW_LANES;
    const int64_t ox_vec_end = mode == COLS_GATHER && !gather_ok ? ox_lo : ox_hi;

    const __m256 vbias = _mm256_set1_ps(w[0]);
    const __m256 vmin = _mm256_set1_ps(clamp->min);
    const __m256 vmax = _mm256_set1_ps(clamp->max);
    const __m256i gather_idx = _mm256_mullo_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_set1_epi32(gather_ok ? (int32_t)sw : 0));

    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        float *orow = out + oy * g->out_w;
        const int64_t iy0 = oy * g->stride_h - g->pad_top;
        dw_row r;
        r.row_step = g->dilation_h * g->in_w;
        r.kw = g->kernel_w;
        r.dw = g->dilation_w;
        r.sw = sw;
        r.pad_left = g->pad_left;
        /* ky with 0 <= iy0 + ky*dilation_h < in_h. */
        const int64_t ky_lo = gconv_clamp_i64(-floor_div(iy0, g->dilation_h), 0, g->kernel_h);
        const int64_t ky_hi = gconv_clamp_i64(floor_div(g->in_h - 1 - iy0, g->dilation_h) + 1, ky_lo,
                                        g->kernel_h);
        r.rows = ky_hi - ky_lo;
        /* Only form a pointer into the plane when some kernel row lands there. */
        r.in_row = r.rows > 0 ? in + (iy0 + ky_lo * g->dilation_h) * g->in_w : in;
        r.taps = w + 1 + ky_lo * g->kernel_w;
        r.gather_idx = gather_idx;

        border_cols(g, in, w, orow, oy, 0, ox_lo, clamp);
        switch (mode) {
        case COLS_UNIT:
            dw_interior(&r, COLS_UNIT, orow, ox_lo, ox_full, ox_hi, vbias, vmin, vmax);
            break;
        case COLS_PAIR:
            dw_interior(&r, COLS_PAIR, orow, ox_lo, ox_full, ox_hi, vbias, vmin, vmax);
            break;
        case COLS_GATHER:
            dw_interior(&r, COLS_GATHER, orow, ox_lo, ox_vec_end, ox_vec_end, vbias, vmin, vmax);
            border_cols(g, in, w, orow, oy, ox_vec_end, ox_hi, clamp);
            break;
        }
        border_cols(g, in, w, orow, oy, ox_hi, g->out_w, clamp);
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
