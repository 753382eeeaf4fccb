/* f32-winograd-2x2-5x5-avx512: the F(2x2, 5x5) transforms (formulas in the scalar twin),
 * vectorized across groups of 16 slots (the layout in gconv.h with m = 2, r = 5): 2 chunks of
 * 8 tiles, each chunk one vector of 16 input columns of some piece; a 16-tile piece spills its
 * last 4 columns into a third vector. Input: vertical B^T on the column vectors, then each row
 * is split into its even and odd columns (2 permutes) and those shifted by one and two tiles
 * (4 permutes), the horizontal B^T runs lane-wise. Output: vertical and horizontal A^T, the two
 * column phases interleaved back (2 permutes), masked stores. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx512.h"
#include <math.h>

#include "winograd.h"

#define LANES 16
#define TILE 2

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

/* y = A^T m (2 rows). */
#define AT2(m, y)                                                                                               \
    do {                                                                                                        \
        y[0] = _mm512_add_ps(_mm512_add_ps(m[0], _mm512_add_ps(m[1], m[2])), _mm512_add_ps(m[3], m[4]));      \
        y[1] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(2.0f), _mm512_sub_ps(m[3], m[4]), _mm512_sub_ps(m[1], m[2])), m[5]); \
    } while (0)

/* Per chunk k of a group (k = 2: the spill of a 16-tile piece): plane offset, rows present, lanes. */
static inline int in_chunks(const gconv_dw_geom *g, const gconv_wino_group *gr, int64_t off[3], int rows_ok[3],
                            __mmask16 mk[3]) {
    int active = 0;
    for (int p = 0; p < gr->npieces; p++) {
        const int nk = gr->cnt[p] == LANES ? 3 : (int)((TILE * gr->cnt[p] + 4 + LANES - 1) / LANES);
        const int64_t iy0 = gr->ty[p] * TILE - g->pad_top;
        int ok = 0;
        for (int q = 0; q < 6; q++) ok |= (iy0 + q >= 0 && iy0 + q < g->in_h) << q;
        for (int sub = 0; sub < nk; sub++) {
            const int k = gr->chunk0[p] + sub;
            const int64_t col = gr->tx[p] * TILE - g->pad_left + LANES * sub;
            const int64_t need = TILE * gr->cnt[p] + 4 - LANES * sub;
            mk[k] = lane_range(-col, g->in_w - col < need ? g->in_w - col : need);
            off[k] = iy0 * g->in_w + col;
            rows_ok[k] = ok;
            active |= 1 << k;
        }
    }
    return active;
}

int gconv_f32_winograd_in_2x2_5x5__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride) {
    const __m512i iev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i iod = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i ish1e = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    const __m512i ish1o = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
    const __m512i ish2e = _mm512_setr_epi32(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18);
    const __m512i ish2o = _mm512_setr_epi32(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 19);
    const __m512 zero = _mm512_setzero_ps();
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    __m512 flag = zero; /* += x * 0: NaN once a NaN or Inf was loaded */
    gconv_wino_group gr;
    float *vg = v;
    for (int64_t t = t_begin; t < t_end; vg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, TILE, 5, &gr);
        int64_t off[3];
        int rows_ok[3];
        __mmask16 mk[3];
        const int active = in_chunks(g, &gr, off, rows_ok, mk);
        for (size_t c = 0; c < channels; c++) {
            const float *plane = in + c * in_stride;
            __m512 tmp[6][3];
            for (int k = 0; k < 3; k++) {
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
                __m512 d[6], w[6];
                d[0] = _mm512_permutex2var_ps(tmp[i][0], iev, tmp[i][1]); /* column 2t */
                d[1] = _mm512_permutex2var_ps(tmp[i][0], iod, tmp[i][1]); /* column 2t+1 */
                d[2] = _mm512_permutex2var_ps(d[0], ish1e, tmp[i][2]);    /* 2t+2: lane 15 from the spill */
                d[3] = _mm512_permutex2var_ps(d[1], ish1o, tmp[i][2]);
                d[4] = _mm512_permutex2var_ps(d[0], ish2e, tmp[i][2]);
                d[5] = _mm512_permutex2var_ps(d[1], ish2o, tmp[i][2]);
                BT6(d, w);
                for (int j = 0; j < 6; j++) _mm512_storeu_ps(vc + (size_t)(6 * i + j) * xi_stride, w[j]);
            }
        }
    }
    return _mm512_cmp_ps_mask(flag, flag, _CMP_UNORD_Q) != 0;
}

void gconv_f32_winograd_out_2x2_5x5__avx512(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp) {
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
    const int do_clamp = !(clamp->min == -INFINITY && clamp->max == INFINITY);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    gconv_wino_group gr;
    const float *mg = m;
    for (int64_t t = t_begin; t < t_end; mg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, TILE, 5, &gr);
        /* output vector k (8 tiles) of row r: 16 columns at out + off[k] + r*out_w, r < nrows[k] */
        int64_t off[2] = {0, 0};
        int nrows[2] = {0, 0};
        __mmask16 st[2] = {0, 0};
        for (int p = 0; p < gr.npieces; p++) {
            const int64_t oy = gr.ty[p] * TILE;
            for (int sub = 0; 8 * sub < gr.cnt[p]; sub++) {
                const int k = gr.chunk0[p] + sub;
                const int64_t ox = gr.tx[p] * TILE + LANES * sub;
                const int64_t ncols = TILE * gr.cnt[p] - LANES * sub;
                st[k] = lane_range(0, g->out_w - ox < ncols ? g->out_w - ox : ncols);
                nrows[k] = g->out_h - oy < TILE ? (int)(g->out_h - oy) : TILE;
                off[k] = oy * g->out_w + ox;
            }
        }
        for (size_t c = 0; c < channels; c++) {
            const float *mc = mg + c * c_stride;
            __m512 s[2][6];
            for (int j = 0; j < 6; j++) {
                __m512 col[6], y[2];
                for (int i = 0; i < 6; i++) col[i] = _mm512_loadu_ps(mc + (size_t)(6 * i + j) * xi_stride);
                AT2(col, y);
                s[0][j] = y[0];
                s[1][j] = y[1];
            }
            const __m512 b = _mm512_set1_ps(bias[c]);
            float *plane = out + c * out_stride;
            for (int r = 0; r < TILE; r++) {
                __m512 y[2];
                AT2(s[r], y);
                for (int q = 0; q < 2; q++) {
                    y[q] = _mm512_add_ps(b, y[q]);
                    if (do_clamp) y[q] = clamp_ps(y[q], lo, hi);
                }
                const __m512 row[2] = {_mm512_permutex2var_ps(y[0], ilo, y[1]), _mm512_permutex2var_ps(y[0], ihi, y[1])};
                for (int k = 0; k < 2; k++)
                    if (r < nrows[k]) _mm512_mask_storeu_ps(plane + off[k] + r * g->out_w, st[k], row[k]);
            }
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
