/* f32-winograd-4x4-3x3-avx2: the F(4x4, 3x3) transforms (formulas in the scalar twin),
 * vectorized across groups of 8 slots (4 chunks of 2 tiles, the layout in gconv.h); the same
 * scheme as the AVX-512 variant, with the
 * 4-phase split of 32 columns done as a 4x4 transpose in each 128-bit lane (12 shuffles).
 * Borders are vmaskmov loads and stores: nothing outside a row's valid columns is touched. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx2.h"

#include "winograd.h"

#define TILE 4 /* F(4x4, 3x3): outputs per tile side */

#define LANES 8

#define BT6(d, w)                                                                                          \
    do {                                                                                                   \
        const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f); \
        w[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));                            \
        w[1] = _mm256_fnmadd_ps(four, _mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));               \
        w[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));                \
        const __m256 t42 = _mm256_sub_ps(d[4], d[2]), t31 = _mm256_sub_ps(d[3], d[1]);                     \
        w[3] = _mm256_fmadd_ps(two, t31, t42);                                                             \
        w[4] = _mm256_fnmadd_ps(two, t31, t42);                                                            \
        w[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));                            \
    } while (0)

#define AT6(m, y)                                                                      \
    do {                                                                               \
        const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]); \
        const __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]); \
        y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);                           \
        y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);                        \
        y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);                        \
        y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m[5]);   \
    } while (0)

/* Per chunk k of a group (k = 4: the spill of an 8-tile piece): where its 8 columns start in
 * the plane, which of the 6 rows exist, and the lanes to load. Returns the chunks in use. */
static inline int in_chunks(const gconv_dw_geom *g, const gconv_wino_group *gr, int64_t off[5], int rows_ok[5],
                            __m256i mk[5]) {
    int active = 0;
    for (int p = 0; p < gr->npieces; p++) {
        const int nk = gr->cnt[p] == LANES ? 5 : (int)((4 * gr->cnt[p] + 2 + LANES - 1) / LANES);
        const int64_t iy0 = gr->ty[p] * TILE - g->pad_top;
        int ok = 0;
        for (int q = 0; q < 6; q++) ok |= (iy0 + q >= 0 && iy0 + q < g->in_h) << q;
        for (int sub = 0; sub < nk; sub++) {
            const int k = gr->chunk0[p] + sub;
            const int64_t col = gr->tx[p] * TILE - g->pad_left + LANES * sub;
            const int64_t need = 4 * gr->cnt[p] + 2 - LANES * sub;
            mk[k] = lane_range(-col, g->in_w - col < need ? g->in_w - col : need);
            off[k] = iy0 * g->in_w + col;
            rows_ok[k] = ok;
            active |= 1 << k;
        }
    }
    return active;
}

int gconv_f32_winograd_in_4x4_3x3__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
                                        size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                        size_t xi_stride, size_t c_stride) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    __m256 flag = zero;
    gconv_wino_group gr;
    float *vg = v;
    for (int64_t t = t_begin; t < t_end; vg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, 4, 3, &gr);
        int64_t off[5];
        int rows_ok[5];
        __m256i mk[5];
        const int active = in_chunks(g, &gr, off, rows_ok, mk);
        for (size_t c = 0; c < channels; c++) {
            const float *plane = in + c * in_stride;
            __m256 tmp[6][5];
            for (int k = 0; k < 5; k++) {
                if (!((active >> k) & 1)) {
                    for (int i = 0; i < 6; i++) tmp[i][k] = zero;
                    continue;
                }
                __m256 d[6], w[6];
                const float *src = plane + off[k];
                for (int q = 0; q < 6; q++, src += g->in_w) {
                    d[q] = (rows_ok[k] >> q) & 1 ? _mm256_maskload_ps(src, mk[k]) : zero;
                    flag = _mm256_fmadd_ps(d[q], zero, flag);
                }
                BT6(d, w);
                for (int i = 0; i < 6; i++) tmp[i][k] = w[i];
            }
            float *vc = vg + c * c_stride;
            for (int i = 0; i < 6; i++) {
                /* tmp[i][0..3]: tiles (0,1) (2,3) (4,5) (6,7), 4 phases each */
                const __m256 r0 = _mm256_permute2f128_ps(tmp[i][0], tmp[i][2], 0x20); /* t0 | t4 */
                const __m256 r1 = _mm256_permute2f128_ps(tmp[i][0], tmp[i][2], 0x31); /* t1 | t5 */
                const __m256 r2 = _mm256_permute2f128_ps(tmp[i][1], tmp[i][3], 0x20); /* t2 | t6 */
                const __m256 r3 = _mm256_permute2f128_ps(tmp[i][1], tmp[i][3], 0x31); /* t3 | t7 */
                const __m256 u0 = _mm256_unpacklo_ps(r0, r1), u1 = _mm256_unpackhi_ps(r0, r1);
                const __m256 u2 = _mm256_unpacklo_ps(r2, r3), u3 = _mm256_unpackhi_ps(r2, r3);
                __m256 d[6], w[6];
                d[0] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
                d[1] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
                d[2] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
                d[3] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
                /* columns 4t+4, 4t+5: phases 0 and 1 of the next lane, lane 7's from the spill */
                const __m256 e0 = _mm256_permutevar8x32_ps(tmp[i][4], _mm256_setzero_si256());
                const __m256 e1 = _mm256_permutevar8x32_ps(tmp[i][4], _mm256_set1_epi32(1));
                d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot1), e0, 0x80);
                d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot1), e1, 0x80);
                BT6(d, w);
                for (int j = 0; j < 6; j++) _mm256_storeu_ps(vc + (size_t)(6 * i + j) * xi_stride, w[j]);
            }
        }
    }
    return _mm256_movemask_ps(_mm256_cmp_ps(flag, flag, _CMP_UNORD_Q)) != 0;
}

void gconv_f32_winograd_out_4x4_3x3__avx2(const gconv_dw_geom *g, size_t channels, const float *m,
                                          size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                          size_t out_stride, int64_t t_begin, int64_t t_end,
                                          const gconv_minmax *clamp) {
    const __m256 lo = _mm256_set1_ps(clamp->min), hi = _mm256_set1_ps(clamp->max);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    gconv_wino_group gr;
    const float *mg = m;
    for (int64_t t = t_begin; t < t_end; mg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, 4, 3, &gr);
        /* output vector k (2 tiles) of row r: 8 columns at out + off[k] + r*out_w, for r < nrows[k] */
        int64_t off[4] = {0, 0, 0, 0};
        int nrows[4] = {0, 0, 0, 0};
        __m256i st[4];
        for (int k = 0; k < 4; k++) st[k] = _mm256_setzero_si256();
        for (int p = 0; p < gr.npieces; p++) {
            const int64_t oy = gr.ty[p] * TILE;
            for (int sub = 0; 2 * sub < gr.cnt[p]; sub++) {
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
            __m256 s[4][6];
            for (int j = 0; j < 6; j++) {
                __m256 col[6], y[4];
                for (int i = 0; i < 6; i++) col[i] = _mm256_loadu_ps(mc + (size_t)(6 * i + j) * xi_stride);
                AT6(col, y);
                for (int r = 0; r < 4; r++) s[r][j] = y[r];
            }
            const __m256 b = _mm256_set1_ps(bias[c]);
            float *plane = out + c * out_stride;
            for (int r = 0; r < 4; r++) {
                __m256 y[4];
                AT6(s[r], y);
                for (int q = 0; q < 4; q++) y[q] = clamp_ps(_mm256_add_ps(b, y[q]), lo, hi);
                /* phases -> columns: 4x4 transposes per 128-bit lane, then lanes regrouped */
                const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
                const __m256 u2 = _mm256_unpacklo_ps(y[2], y[3]), u3 = _mm256_unpackhi_ps(y[2], y[3]);
                const __m256 r0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0)); /* t0 | t4 */
                const __m256 r1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2)); /* t1 | t5 */
                const __m256 r2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0)); /* t2 | t6 */
                const __m256 r3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2)); /* t3 | t7 */
                const __m256 row[4] = {_mm256_permute2f128_ps(r0, r1, 0x20), _mm256_permute2f128_ps(r2, r3, 0x20),
                                       _mm256_permute2f128_ps(r0, r1, 0x31), _mm256_permute2f128_ps(r2, r3, 0x31)};
                for (int k = 0; k < 4; k++)
                    if (r < nrows[k]) _mm256_maskstore_ps(plane + off[k] + r * g->out_w, st[k], row[k]);
            }
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
