/* f32-winograd-4x4-3x3-avx512: the F(4x4, 3x3) transforms (formulas in the scalar twin),
 * vectorized across tiles.
 *
 * A vector holds a group of 16 slots (the layout in gconv.h): 4 chunks of 4 tiles, each chunk
 * one vector of 16 input columns of some piece (a run of a tile row), so rows of 7 tiles
 * (28x28 outputs) share a vector two by two. Only the loads and stores depend on the pieces;
 * every v and m access is a whole aligned group.
 * Input: the vertical pass (B^T over the 6 rows) runs on those vectors as they are; then each of the 6 results is split into its
 * 4 column phases (column 4t+q of tile t is lane t of phase q: 8 two-source permutes) plus
 * phases 0 and 1 shifted by one tile (columns 4t+4, 4t+5), and the horizontal pass runs lane-
 * wise on those 6 vectors. Borders are masked loads: no read outside a row's [0, in_w).
 * Output: the mirror image (vertical A^T, horizontal A^T, then 8 permutes interleave the 4
 * phases back into 64 contiguous columns, stored with a mask). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx512.h"

#include <math.h>

#include "winograd.h"

#define TILE 4 /* F(4x4, 3x3): outputs per tile side */

#define LANES 16

/* w = B^T d for 6 vectors (the 1-D input transform, lane-wise). */
#define BT6(d, w)                                                                                          \
    do {                                                                                                   \
        const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f); \
        w[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));                            \
        w[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4]));               \
        w[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));                \
        const __m512 t42 = _mm512_sub_ps(d[4], d[2]), t31 = _mm512_sub_ps(d[3], d[1]);                     \
        w[3] = _mm512_fmadd_ps(two, t31, t42);                                                             \
        w[4] = _mm512_fnmadd_ps(two, t31, t42);                                                            \
        w[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));                            \
    } while (0)

/* y = A^T m for 6 vectors (the 1-D output transform). */
#define AT6(m, y)                                                                               \
    do {                                                                                        \
        const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);          \
        const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);          \
        y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);                                    \
        y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);                                 \
        y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);                                 \
        y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);            \
    } while (0)

/* Per chunk k of a group (k = 4: the spill of a 16-tile piece): where its 16 columns start in
 * the plane, which of the 6 rows exist, and the lanes to load. Returns the chunks in use. */
static inline int in_chunks(const gconv_dw_geom *g, const gconv_wino_group *gr, int64_t off[5], int rows_ok[5],
                            __mmask16 mk[5]) {
    int active = 0;
    for (int p = 0; p < gr->npieces; p++) {
        const int nk = gr->cnt[p] == LANES ? 5 : (int)((4 * gr->cnt[p] + 2 + LANES - 1) / LANES);
        const int64_t iy0 = gr->ty[p] * TILE - g->pad_top;
        int ok = 0;
        for (int q = 0; q < 6; q++) ok |= (iy0 + q >= 0 && iy0 + q < g->in_h) << q;
        for (int sub = 0; sub < nk; sub++) {
            const int k = gr->chunk0[p] + sub;
            const int64_t col = gr->tx[p] * TILE - g->pad_left + LANES * sub;
            const int64_t need = 4 * gr->cnt[p] + 2 - LANES * sub; /* columns of the piece from col on */
            mk[k] = lane_range(-col, g->in_w - col < need ? g->in_w - col : need);
            off[k] = iy0 * g->in_w + col;
            rows_ok[k] = ok;
            active |= 1 << k;
        }
    }
    return active;
}

int gconv_f32_winograd_in_4x4_3x3__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride) {
    /* phases 0,1 (lanes 0-7 | 8-15) and 2,3 of tiles 0-7 from the 32 floats of two vectors */
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512i ilo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const __m512i ish0 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    const __m512i ish1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
    const __m512 zero = _mm512_setzero_ps();
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    __m512 flag = zero; /* += x * 0: NaN once a NaN or Inf was loaded */
    gconv_wino_group gr;
    float *vg = v;
    for (int64_t t = t_begin; t < t_end; vg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, 4, 3, &gr);
        int64_t off[5];
        int rows_ok[5];
        __mmask16 mk[5];
        const int active = in_chunks(g, &gr, off, rows_ok, mk);
        for (size_t c = 0; c < channels; c++) {
            const float *plane = in + c * in_stride;
            __m512 tmp[6][5];
            for (int k = 0; k < 5; k++) {
                if (!((active >> k) & 1)) {
                    for (int i = 0; i < 6; i++) tmp[i][k] = zero;
                    continue;
                }
                __m512 d[6], w[6];
                const float *src = plane + off[k];
                for (int q = 0; q < 6; q++, src += g->in_w) {
                    d[q] = (rows_ok[k] >> q) & 1 ? _mm512_maskz_loadu_ps(mk[k], src) : zero;
                    flag = _mm512_fmadd_ps(d[q], zero, flag);
                }
                BT6(d, w);
                for (int i = 0; i < 6; i++) tmp[i][k] = w[i];
            }
            float *vc = vg + c * c_stride;
            for (int i = 0; i < 6; i++) {
                const __m512 x01 = _mm512_permutex2var_ps(tmp[i][0], i01, tmp[i][1]);
                const __m512 x23 = _mm512_permutex2var_ps(tmp[i][0], i23, tmp[i][1]);
                const __m512 y01 = _mm512_permutex2var_ps(tmp[i][2], i01, tmp[i][3]);
                const __m512 y23 = _mm512_permutex2var_ps(tmp[i][2], i23, tmp[i][3]);
                __m512 d[6], w[6];
                d[0] = _mm512_permutex2var_ps(x01, ilo, y01);
                d[1] = _mm512_permutex2var_ps(x01, ihi, y01);
                d[2] = _mm512_permutex2var_ps(x23, ilo, y23);
                d[3] = _mm512_permutex2var_ps(x23, ihi, y23);
                /* columns 4t+4, 4t+5: phases 0 and 1 of the next lane (the last tile of a piece
                 * finds them in its own chunk; lane 15's come from the spill vector) */
                d[4] = _mm512_permutex2var_ps(d[0], ish0, tmp[i][4]);
                d[5] = _mm512_permutex2var_ps(d[1], ish1, tmp[i][4]);
                BT6(d, w);
                for (int j = 0; j < 6; j++) _mm512_storeu_ps(vc + (size_t)(6 * i + j) * xi_stride, w[j]);
            }
        }
    }
    return _mm512_cmp_ps_mask(flag, flag, _CMP_UNORD_Q) != 0;
}

void gconv_f32_winograd_out_4x4_3x3__avx512(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp) {
    /* (p0[t], p1[t]) pairs for tiles 0-7 and 8-15, then two pairs per tile into rows of 4 tiles */
    const __m512i ip_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ip_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i iq_lo = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i iq_hi = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
    const int do_clamp = !(clamp->min == -INFINITY && clamp->max == INFINITY);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    gconv_wino_group gr;
    const float *mg = m;
    for (int64_t t = t_begin; t < t_end; mg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, 4, 3, &gr);
        /* output vector k (4 tiles) of row r: 16 columns at out + off[k] + r*out_w, for r < nrows[k] */
        int64_t off[4] = {0, 0, 0, 0};
        int nrows[4] = {0, 0, 0, 0};
        __mmask16 st[4] = {0, 0, 0, 0};
        for (int p = 0; p < gr.npieces; p++) {
            const int64_t oy = gr.ty[p] * TILE;
            for (int sub = 0; 4 * sub < gr.cnt[p]; sub++) {
                const int k = gr.chunk0[p] + sub;
                const int64_t ox = gr.tx[p] * TILE + LANES * sub;
                const int64_t ncols = 4 * gr.cnt[p] - LANES * sub;
                st[k] = lane_range(0, g->out_w - ox < ncols ? g->out_w - ox : ncols);
                nrows[k] = g->out_h - oy < 4 ? (int)(g->out_h - oy) : 4;
                off[k] = oy * g->out_w + ox;
            }
        }
        for (size_t c = 0; c < channels; c++) {
            const float *mc = mg + c * c_stride;
            __m512 s[4][6];
            for (int j = 0; j < 6; j++) {
                __m512 col[6], y[4];
                for (int i = 0; i < 6; i++) col[i] = _mm512_loadu_ps(mc + (size_t)(6 * i + j) * xi_stride);
                AT6(col, y);
                for (int r = 0; r < 4; r++) s[r][j] = y[r];
            }
            const __m512 b = _mm512_set1_ps(bias[c]);
            float *plane = out + c * out_stride;
            for (int r = 0; r < 4; r++) {
                __m512 y[4];
                AT6(s[r], y);
                for (int q = 0; q < 4; q++) {
                    y[q] = _mm512_add_ps(b, y[q]);
                    if (do_clamp) y[q] = clamp_ps(y[q], lo, hi);
                }
                const __m512 x01l = _mm512_permutex2var_ps(y[0], ip_lo, y[1]);
                const __m512 x01h = _mm512_permutex2var_ps(y[0], ip_hi, y[1]);
                const __m512 x23l = _mm512_permutex2var_ps(y[2], ip_lo, y[3]);
                const __m512 x23h = _mm512_permutex2var_ps(y[2], ip_hi, y[3]);
                const __m512 row[4] = {_mm512_permutex2var_ps(x01l, iq_lo, x23l), _mm512_permutex2var_ps(x01l, iq_hi, x23l),
                                       _mm512_permutex2var_ps(x01h, iq_lo, x23h), _mm512_permutex2var_ps(x01h, iq_hi, x23h)};
                for (int k = 0; k < 4; k++)
                    if (r < nrows[k]) _mm512_mask_storeu_ps(plane + off[k] + r * g->out_w, st[k], row[k]);
            }
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
