/* The scalar Winograd transforms, one tile at a time (contracts in gconv.h), written once for
 * F(4x4, 3x3) and F(2x2, 5x5): both use the points 0, +-1, +-2, inf, so they share B^T (bt6 below)
 * and differ in A^T (TILE rows). The scalar twins of winograd_simd.h's kernels.
 *
 * The including file defines TILE, WINO_IN_FN, WINO_OUT_FN and
 *     at6(const float m[6], float y[TILE])    y = A^T m
 * and then includes this file. */
#ifndef TILE
#error "define TILE, WINO_IN_FN, WINO_OUT_FN and at6 first"
#endif

#include <math.h>

#include "../common/internal.h"
#include "winograd.h"

/* w = B^T d: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1] */
static inline void bt6(const float d[6], float w[6]) {
    w[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    w[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    w[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    w[3] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
    w[4] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
    w[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

int WINO_IN_FN(const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride, int64_t t_begin,
               int64_t t_end, float *v, size_t xi_stride, size_t c_stride) {
    int nonfinite = 0;
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    for (size_t c = 0; c < channels; c++) {
        const float *plane = in + c * in_stride;
        for (int64_t t = t_begin; t < t_end; t++) {
            const int64_t iy0 = t / tiles_w * TILE - g->pad_top;
            const int64_t ix0 = t % tiles_w * TILE - g->pad_left;
            float d[6][6], h[6][6], col[6], w[6];
            for (int k = 0; k < 6; k++) {
                const int64_t iy = iy0 + k;
                for (int q = 0; q < 6; q++) {
                    const int64_t ix = ix0 + q;
                    const float x = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w ? plane[iy * g->in_w + ix] : 0.0f;
                    nonfinite |= !isfinite(x);
                    d[k][q] = x;
                }
                bt6(d[k], h[k]); /* rows: h = d B */
            }
            for (int j = 0; j < 6; j++) {
                for (int k = 0; k < 6; k++) col[k] = h[k][j];
                bt6(col, w); /* columns: B^T h */
                for (int i = 0; i < 6; i++) v[(size_t)(6 * i + j) * xi_stride + c * c_stride + (size_t)(t - t_begin)] = w[i];
            }
        }
    }
    return nonfinite;
}

void WINO_OUT_FN(const gconv_dw_geom *g, size_t channels, const float *m, size_t xi_stride, size_t c_stride,
                 const float *bias, float *out, size_t out_stride, int64_t t_begin, int64_t t_end,
                 const gconv_minmax *clamp) {
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    for (size_t c = 0; c < channels; c++) {
        float *plane = out + c * out_stride;
        for (int64_t t = t_begin; t < t_end; t++) {
            const int64_t oy0 = t / tiles_w * TILE, ox0 = t % tiles_w * TILE;
            float s[TILE][6], col[6], y[TILE];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < 6; i++) col[i] = m[(size_t)(6 * i + j) * xi_stride + c * c_stride + (size_t)(t - t_begin)];
                at6(col, y); /* columns: A^T M */
                for (int r = 0; r < TILE; r++) s[r][j] = y[r];
            }
            for (int r = 0; r < TILE && oy0 + r < g->out_h; r++) {
                at6(s[r], y); /* rows: (A^T M) A */
                for (int q = 0; q < TILE && ox0 + q < g->out_w; q++)
                    plane[(oy0 + r) * g->out_w + ox0 + q] = gconv_clampf(bias[c] + y[q], clamp);
            }
        }
    }
}
