/* f32-winograd-2x2-5x5-avx2: the F(2x2, 5x5) transforms (formulas in the scalar twin),
 * vectorized across groups of 8 slots (2 chunks of 4 tiles, the layout in gconv.h with m = 2,
 * r = 5); the same scheme as the AVX-512 variant, with the even/odd column split done by
 * shuffles and cross-lane permutes. vmaskmov loads and stores touch nothing outside the rows. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#include "../common/simd_avx2.h"

#include "winograd.h"

#define LANES 8
#define TILE 2

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

#define AT2(m, y)                                                                                               \
    do {                                                                                                        \
        y[0] = _mm256_add_ps(_mm256_add_ps(m[0], _mm256_add_ps(m[1], m[2])), _mm256_add_ps(m[3], m[4]));      \
        y[1] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(2.0f), _mm256_sub_ps(m[3], m[4]), _mm256_sub_ps(m[1], m[2])), m[5]); \
    } while (0)

static inline int in_chunks(const gconv_dw_geom *g, const gconv_wino_group *gr, int64_t off[3], int rows_ok[3],
                            __m256i mk[3]) {
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

int gconv_f32_winograd_in_2x2_5x5__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
                                        size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                        size_t xi_stride, size_t c_stride) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i rot1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0), rot2 = _mm256_setr_epi32(2, 3, 4, 5, 6, 7, 0, 1);
    const __m256i spill_e = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 0, 2), spill_o = _mm256_setr_epi32(1, 1, 1, 1, 1, 1, 1, 3);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    __m256 flag = zero;
    gconv_wino_group gr;
    float *vg = v;
    for (int64_t t = t_begin; t < t_end; vg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, TILE, 5, &gr);
        int64_t off[3];
        int rows_ok[3];
        __m256i mk[3];
        const int active = in_chunks(g, &gr, off, rows_ok, mk);
        for (size_t c = 0; c < channels; c++) {
            const float *plane = in + c * in_stride;
            __m256 tmp[6][3];
            for (int k = 0; k < 3; k++) {
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
                __m256 d[6], w[6];
                /* even / odd columns of the 16: [a0 a2 b0 b2 | a4 a6 b4 b6] -> lane order */
                d[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(
                    _mm256_castps_pd(_mm256_shuffle_ps(tmp[i][0], tmp[i][1], _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
                d[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(
                    _mm256_castps_pd(_mm256_shuffle_ps(tmp[i][0], tmp[i][1], _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
                /* one and two tiles on; the last lanes from the spill vector (columns 16-19) */
                const __m256 e0 = _mm256_permutevar8x32_ps(tmp[i][2], _mm256_setzero_si256());
                const __m256 e1 = _mm256_permutevar8x32_ps(tmp[i][2], _mm256_set1_epi32(1));
                const __m256 se = _mm256_permutevar8x32_ps(tmp[i][2], spill_e); /* lanes 6, 7: columns 16, 18 */
                const __m256 so = _mm256_permutevar8x32_ps(tmp[i][2], spill_o); /* 17, 19 */
                d[2] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot1), e0, 0x80);
                d[3] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot1), e1, 0x80);
                d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], rot2), se, 0xC0);
                d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], rot2), so, 0xC0);
                BT6(d, w);
                for (int j = 0; j < 6; j++) _mm256_storeu_ps(vc + (size_t)(6 * i + j) * xi_stride, w[j]);
            }
        }
    }
    return _mm256_movemask_ps(_mm256_cmp_ps(flag, flag, _CMP_UNORD_Q)) != 0;
}

void gconv_f32_winograd_out_2x2_5x5__avx2(const gconv_dw_geom *g, size_t channels, const float *m,
                                          size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                          size_t out_stride, int64_t t_begin, int64_t t_end,
                                          const gconv_minmax *clamp) {
    const __m256 lo = _mm256_set1_ps(clamp->min), hi = _mm256_set1_ps(clamp->max);
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    gconv_wino_group gr;
    const float *mg = m;
    for (int64_t t = t_begin; t < t_end; mg += LANES) {
        t = gconv_wino_next_group(t, t_end, tiles_w, LANES, TILE, 5, &gr);
        int64_t off[2] = {0, 0};
        int nrows[2] = {0, 0};
        __m256i st[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int p = 0; p < gr.npieces; p++) {
            const int64_t oy = gr.ty[p] * TILE;
            for (int sub = 0; 4 * sub < gr.cnt[p]; sub++) {
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
            __m256 s[2][6];
            for (int j = 0; j < 6; j++) {
                __m256 col[6], y[2];
                for (int i = 0; i < 6; i++) col[i] = _mm256_loadu_ps(mc + (size_t)(6 * i + j) * xi_stride);
                AT2(col, y);
                s[0][j] = y[0];
                s[1][j] = y[1];
            }
            const __m256 b = _mm256_set1_ps(bias[c]);
            float *plane = out + c * out_stride;
            for (int r = 0; r < TILE; r++) {
                __m256 y[2];
                AT2(s[r], y);
                for (int q = 0; q < 2; q++) y[q] = clamp_ps(_mm256_add_ps(b, y[q]), lo, hi);
                const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
                const __m256 row[2] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)};
                for (int k = 0; k < 2; k++)
                    if (r < nrows[k]) _mm256_maskstore_ps(plane + off[k] + r * g->out_w, st[k], row[k]);
            }
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
