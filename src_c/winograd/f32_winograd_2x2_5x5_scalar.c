/* f32-winograd-2x2-5x5-scalar: the Winograd F(2x2, 5x5) input and output transforms, one tile
 * at a time (contracts in gconv.h: tiles of 2x2 outputs, 6x6 windows). Scalar twin of the SIMD
 * variants. Same points as F(4x4, 3x3), so the same B^T (its formulas are repeated here);
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]
 * and G in gconv_winograd_weight. */
#include <math.h>

#include "winograd.h"

#define TILE 2

static inline void bt6(const float d[6], float w[6]) {
    w[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    w[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    w[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    w[3] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
    w[4] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
    w[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

static inline void at6(const float m[6], float y[2]) {
    y[0] = m[0] + (m[1] + m[2]) + (m[3] + m[4]);
    y[1] = (m[1] - m[2]) + 2.0f * (m[3] - m[4]) + m[5];
}

int gconv_f32_winograd_in_2x2_5x5__scalar(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride) {
    int nonfinite = 0;
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    for (size_t c = 0; c < channels; c++) {
        const float *plane = in + c * in_stride;
        for (int64_t t = t_begin; t < t_end; t++) {
            const int64_t iy0 = t / tiles_w * TILE - g->pad_top, ix0 = t % tiles_w * TILE - g->pad_left;
            float d[6][6], h[6][6], col[6], w[6];
            for (int k = 0; k < 6; k++) {
                const int64_t iy = iy0 + k;
                for (int q = 0; q < 6; q++) {
                    const int64_t ix = ix0 + q;
                    const float x = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w ? plane[iy * g->in_w + ix] : 0.0f;
                    nonfinite |= !isfinite(x);
                    d[k][q] = x;
                }
                bt6(d[k], h[k]);
            }
            for (int j = 0; j < 6; j++) {
                for (int k = 0; k < 6; k++) col[k] = h[k][j];
                bt6(col, w);
                for (int i = 0; i < 6; i++) v[(size_t)(6 * i + j) * xi_stride + c * c_stride + (size_t)(t - t_begin)] = w[i];
            }
        }
    }
    return nonfinite;
}

void gconv_f32_winograd_out_2x2_5x5__scalar(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp) {
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    for (size_t c = 0; c < channels; c++) {
        float *plane = out + c * out_stride;
        for (int64_t t = t_begin; t < t_end; t++) {
            const int64_t oy0 = t / tiles_w * TILE, ox0 = t % tiles_w * TILE;
            float s[2][6], col[6], y[2];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < 6; i++) col[i] = m[(size_t)(6 * i + j) * xi_stride + c * c_stride + (size_t)(t - t_begin)];
                at6(col, y);
                s[0][j] = y[0];
                s[1][j] = y[1];
            }
            for (int r = 0; r < 2 && oy0 + r < g->out_h; r++) {
                at6(s[r], y);
                for (int q = 0; q < 2 && ox0 + q < g->out_w; q++)
                    plane[(oy0 + r) * g->out_w + ox0 + q] = gconv_clampf(bias[c] + y[q], clamp);
            }
        }
    }
}
