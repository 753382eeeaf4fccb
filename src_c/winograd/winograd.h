/* Winograd F(4x4, 3x3) microkernels (contracts in gconv.h) and the weight transform. */
#ifndef GCONV_WINOGRAD_H
#define GCONV_WINOGRAD_H

#include "../common/internal.h"

int gconv_f32_winograd_in_4x4_3x3__scalar(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride);
int gconv_f32_winograd_in_4x4_3x3__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
                                        size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                        size_t xi_stride, size_t c_stride);
int gconv_f32_winograd_in_4x4_3x3__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride);
void gconv_f32_winograd_out_4x4_3x3__scalar(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp);
void gconv_f32_winograd_out_4x4_3x3__avx2(const gconv_dw_geom *g, size_t channels, const float *m,
                                          size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                          size_t out_stride, int64_t t_begin, int64_t t_end,
                                          const gconv_minmax *clamp);
void gconv_f32_winograd_out_4x4_3x3__avx512(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp);

/* One group of slots (the layout in gconv.h): up to 4 pieces, runs of consecutive tiles of one
 * tile row; piece p holds tiles (ty[p], tx[p] + i) for i < cnt[p] in slots
 * chunk0[p] * lanes/m + i of the group. A chunk is one vector of input columns: lanes/m tiles
 * of m output columns each; a group is m chunks. */
typedef struct {
    int npieces, nchunks;
    int64_t ty[4], tx[4], cnt[4];
    int chunk0[4];
} gconv_wino_group;

/* Fills gr with the group that starts at tile t (< t_end) for F(m x m, r x r) and a kernel of
 * `lanes` lanes; returns the first tile after it. */
static inline int64_t gconv_wino_next_group(int64_t t, int64_t t_end, int64_t tiles_w, int lanes, int m, int r,
                                            gconv_wino_group *gr) {
    gr->npieces = gr->nchunks = 0;
    if (lanes == 1) { /* one tile per group: slots are tile order */
        gr->npieces = gr->nchunks = 1;
        gr->ty[0] = t / tiles_w;
        gr->tx[0] = t % tiles_w;
        gr->cnt[0] = 1;
        gr->chunk0[0] = 0;
        return t + 1;
    }
    while (gr->nchunks < m && t < t_end) {
        const int64_t tx = t % tiles_w;
        int64_t n = tiles_w - tx < t_end - t ? tiles_w - tx : t_end - t;
        /* what fits in the chunks left: a piece of n tiles spans m*n + r - 1 input columns; a
         * full group of `lanes` tiles lets its last r - 1 columns spill into one more vector */
        const int64_t cap = gr->nchunks == 0 && n >= lanes ? lanes : ((int64_t)lanes * (m - gr->nchunks) - (r - 1)) / m;
        if (n > cap) n = cap;
        const int p = gr->npieces++;
        gr->ty[p] = t / tiles_w;
        gr->tx[p] = tx;
        gr->cnt[p] = n;
        gr->chunk0[p] = gr->nchunks;
        gr->nchunks += n == lanes ? m : (int)((m * n + r - 1 + lanes - 1) / lanes);
        t += n;
    }
    return t;
}

/* Slots tiles [t_begin, t_end) take: lanes per group started. */
static inline int64_t gconv_wino_slots(int64_t t_begin, int64_t t_end, int64_t tiles_w, int lanes, int m, int r) {
    gconv_wino_group gr;
    int64_t groups = 0;
    for (int64_t t = t_begin; t < t_end; groups++) t = gconv_wino_next_group(t, t_end, tiles_w, lanes, m, r, &gr);
    return groups * lanes;
}

int gconv_f32_winograd_in_2x2_5x5__scalar(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride);
int gconv_f32_winograd_in_2x2_5x5__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
                                        size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                        size_t xi_stride, size_t c_stride);
int gconv_f32_winograd_in_2x2_5x5__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride);
void gconv_f32_winograd_out_2x2_5x5__scalar(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp);
void gconv_f32_winograd_out_2x2_5x5__avx2(const gconv_dw_geom *g, size_t channels, const float *m,
                                          size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                          size_t out_stride, int64_t t_begin, int64_t t_end,
                                          const gconv_minmax *clamp);
void gconv_f32_winograd_out_2x2_5x5__avx512(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp);

/* u[xi] = (G w G^T)[i][j] for one r x r filter w (row-major, r = 3 or 5: F(4x4, 3x3) or
 * F(2x2, 5x5)), computed in double, rounded once. */
void gconv_winograd_weight(int r, const float *w, float u[GCONV_WINO_POINTS]);

/* Test hooks (gconv_cpu/_winograd.pxi): call the transforms of table entry `index`, which the
 * caller has checked is a Winograd kernel this CPU runs. */
int gconv_winograd_in_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride,
                           int64_t t_begin, int64_t t_end, float *v, size_t xi_stride, size_t c_stride);
void gconv_winograd_out_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *m, size_t xi_stride,
                             size_t c_stride, const float *bias, float *out, size_t out_stride, int64_t t_begin,
                             int64_t t_end, const gconv_minmax *clamp);

#endif
