/* The vectorized Winograd transforms, written once for AVX2 and AVX-512 (formulas in the scalar
 * twins, the slot layout in gconv.h and winograd.h).
 *
 * A group of VLANES slots is TILE chunks, each chunk one vector of input columns of some piece (a
 * run of a tile row); a piece of VLANES tiles spills its last R - 1 columns into chunk TILE.
 * Input: the vertical pass (B^T over the 6 rows) runs on those column vectors as they are; the
 * ISA's split_columns() then turns each result row into 6 vectors whose lane t holds column
 * TILE*t + j of tile t, and the horizontal pass runs lane-wise on them. Output: the mirror image
 * (vertical A^T, horizontal A^T, interleave_columns() back to TILE vectors of contiguous
 * columns). Borders are masked loads and stores: nothing outside a row's [0, width) is touched.
 *
 * Only the column split and interleave depend on the ISA (they are lane permutes). The including
 * file includes its simd_avx2.h or simd_avx512.h (the vfloat vocabulary), defines
 *     TILE, R                    F(TILE x TILE, R x R): 4, 3 or 2, 5
 *     WINO_IN_FN, WINO_OUT_FN    the kernel names
 *     split_columns(const vfloat t[TILE + 1], vfloat d[6])
 *     interleave_columns(const vfloat y[TILE], vfloat row[TILE])
 * and then includes this file. */
#ifndef TILE
#error "define TILE, R, WINO_IN_FN, WINO_OUT_FN, split_columns and interleave_columns first"
#endif

#include <math.h>

#include "winograd.h"

#define IN_CHUNKS (TILE + 1)

/* w = B^T d, the 1-D input transform of both F(4, 3) and F(2, 5) (lane-wise). */
static inline void bt6(const vfloat d[6], vfloat w[6]) {
    const vfloat four = vf_set1(4.0f), five = vf_set1(5.0f), two = vf_set1(2.0f);
    w[0] = vf_fmadd(four, d[0], vf_fnmadd(five, d[2], d[4]));
    w[1] = vf_fnmadd(four, vf_add(d[1], d[2]), vf_add(d[3], d[4]));
    w[2] = vf_fmadd(four, vf_sub(d[1], d[2]), vf_sub(d[4], d[3]));
    const vfloat t42 = vf_sub(d[4], d[2]), t31 = vf_sub(d[3], d[1]);
    w[3] = vf_fmadd(two, t31, t42);
    w[4] = vf_fnmadd(two, t31, t42);
    w[5] = vf_fmadd(four, d[1], vf_fnmadd(five, d[3], d[5]));
}

/* y = A^T m, the 1-D output transform (TILE rows). */
static inline void at6(const vfloat m[6], vfloat y[TILE]) {
#if TILE == 4
    const vfloat s12 = vf_add(m[1], m[2]), d12 = vf_sub(m[1], m[2]);
    const vfloat s34 = vf_add(m[3], m[4]), d34 = vf_sub(m[3], m[4]);
    y[0] = vf_add(vf_add(m[0], s12), s34);
    y[1] = vf_fmadd(vf_set1(2.0f), d34, d12);
    y[2] = vf_fmadd(vf_set1(4.0f), s34, s12);
    y[3] = vf_add(vf_fmadd(vf_set1(8.0f), d34, d12), m[5]);
#elif TILE == 2
    y[0] = vf_add(vf_add(m[0], vf_add(m[1], m[2])), vf_add(m[3], m[4]));
    y[1] = vf_add(vf_fmadd(vf_set1(2.0f), vf_sub(m[3], m[4]), vf_sub(m[1], m[2])), m[5]);
#else
#error "TILE must be 4 (F(4x4, 3x3)) or 2 (F(2x2, 5x5))"
#endif
}

/* Per chunk k of a group: where its VLANES columns start in the plane, which of the 6 rows
 * exist, and the lanes to load. Returns the chunks in use as a bit set. */
static inline int in_chunks(const gconv_dw_geom *g, const gconv_wino_group *gr, int64_t off[IN_CHUNKS],
                            int rows_ok[IN_CHUNKS], vmask mk[IN_CHUNKS]) {
    int active = 0;
    for (int p = 0; p < gr->npieces; p++) {
        const int64_t columns = TILE * gr->cnt[p] + R - 1; /* input columns the piece reads */
        const int nk = (int)((columns + VLANES - 1) / VLANES);
        const int64_t iy0 = gr->ty[p] * TILE - g->pad_top;
        int ok = 0;
        for (int q = 0; q < 6; q++) ok |= (iy0 + q >= 0 && iy0 + q < g->in_h) << q;
        for (int sub = 0; sub < nk; sub++) {
            const int k = gr->chunk0[p] + sub;
            const int64_t col = gr->tx[p] * TILE - g->pad_left + VLANES * sub;
            const int64_t need = columns - VLANES * sub; /* columns of the piece from col on */
            mk[k] = lane_range(-col, g->in_w - col < need ? g->in_w - col : need);
            off[k] = iy0 * g->in_w + col;
            rows_ok[k] = ok;
            active |= 1 << k;
        }
    }
    return active;
}

int WINO_IN_FN(const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride, int64_t t_begin,
               int64_t t_end, float *v, size_t xi_stride, size_t c_stride) {
    const vfloat zero = vf_zero();
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    vfloat flag = zero; /* += x * 0: NaN once a NaN or Inf was loaded */
    gconv_wino_group gr;
    float *vg = v;
    for (int64_t t = t_begin; t < t_end; vg += VLANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, VLANES, TILE, R, &gr);
        int64_t off[IN_CHUNKS];
        int rows_ok[IN_CHUNKS];
        vmask mk[IN_CHUNKS];
        const int active = in_chunks(g, &gr, off, rows_ok, mk);
        for (size_t c = 0; c < channels; c++) {
            const float *plane = in + c * in_stride;
            vfloat tmp[6][IN_CHUNKS];
            for (int k = 0; k < IN_CHUNKS; k++) {
                if (!((active >> k) & 1)) {
                    for (int i = 0; i < 6; i++) tmp[i][k] = zero;
                    continue;
                }
                vfloat d[6], w[6];
                const float *src = plane + off[k];
                for (int q = 0; q < 6; q++, src += g->in_w) {
                    d[q] = (rows_ok[k] >> q) & 1 ? vf_load_masked(src, mk[k]) : zero;
                    flag = vf_fmadd(d[q], zero, flag);
                }
                bt6(d, w);
                for (int i = 0; i < 6; i++) tmp[i][k] = w[i];
            }
            float *vc = vg + c * c_stride;
            for (int i = 0; i < 6; i++) {
                vfloat d[6], w[6];
                split_columns(tmp[i], d);
                bt6(d, w);
                for (int j = 0; j < 6; j++) vf_storeu(vc + (size_t)(6 * i + j) * xi_stride, w[j]);
            }
        }
    }
    return vf_any_nan(flag);
}

void WINO_OUT_FN(const gconv_dw_geom *g, size_t channels, const float *m, size_t xi_stride, size_t c_stride,
                 const float *bias, float *out, size_t out_stride, int64_t t_begin, int64_t t_end,
                 const gconv_minmax *clamp) {
    const vfloat lo = vf_set1(clamp->min), hi = vf_set1(clamp->max);
    const int do_clamp = !(clamp->min == -INFINITY && clamp->max == INFINITY);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    gconv_wino_group gr;
    const float *mg = m;
    for (int64_t t = t_begin; t < t_end; mg += VLANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, VLANES, TILE, R, &gr);
        /* output vector k (VLANES / TILE tiles) of row r: VLANES columns at out + off[k] + r*out_w,
         * for r < nrows[k] */
        int64_t off[TILE];
        int nrows[TILE];
        vmask st[TILE];
        for (int k = 0; k < TILE; k++) {
            off[k] = 0;
            nrows[k] = 0;
            st[k] = lane_range(0, 0);
        }
        for (int p = 0; p < gr.npieces; p++) {
            const int64_t oy = gr.ty[p] * TILE;
            for (int sub = 0; (VLANES / TILE) * sub < gr.cnt[p]; sub++) {
                const int k = gr.chunk0[p] + sub;
                const int64_t ox = gr.tx[p] * TILE + VLANES * sub;
                const int64_t ncols = TILE * gr.cnt[p] - VLANES * sub;
                st[k] = lane_range(0, g->out_w - ox < ncols ? g->out_w - ox : ncols);
                nrows[k] = g->out_h - oy < TILE ? (int)(g->out_h - oy) : TILE;
                off[k] = oy * g->out_w + ox;
            }
        }
        for (size_t c = 0; c < channels; c++) {
            const float *mc = mg + c * c_stride;
            vfloat s[TILE][6];
            for (int j = 0; j < 6; j++) {
                vfloat col[6], y[TILE];
                for (int i = 0; i < 6; i++) col[i] = vf_loadu(mc + (size_t)(6 * i + j) * xi_stride);
                at6(col, y);
                for (int r = 0; r < TILE; r++) s[r][j] = y[r];
            }
            const vfloat b = vf_set1(bias[c]);
            float *plane = out + c * out_stride;
            for (int r = 0; r < TILE; r++) {
                vfloat y[TILE], row[TILE];
                at6(s[r], y);
                for (int q = 0; q < TILE; q++) {
                    y[q] = vf_add(b, y[q]);
                    if (do_clamp) y[q] = clamp_ps(y[q], lo, hi);
                }
                interleave_columns(y, row);
                for (int k = 0; k < TILE; k++)
                    if (r < nrows[k]) vf_store_masked(plane + off[k] + r * g->out_w, st[k], row[k]);
            }
        }
    }
}
