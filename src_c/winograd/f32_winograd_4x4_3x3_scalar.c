/* f32-winograd-4x4-3x3-scalar: the Winograd F(4x4, 3x3) input and output transforms, one
 * tile at a time (contracts in gconv.h). Scalar twin of the SIMD variants, which vectorize
 * the same formulas across tiles.
 *
 * Interpolation points 0, +-1, +-2, inf (Lavin & Gray):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] */
#include <math.h>

#include "../common/internal.h"
#include "winograd.h"

#define TILE 4 /* F(4x4, 3x3): outputs per tile side */

static inline void bt6(const float d[6], float w[6]) {
    w[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    w[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    w[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    w[3] = (d[4] - d[2]) + 2.0f * (d[3] - d[1]);
    w[4] = (d[4] - d[2]) - 2.0f * (d[3] - d[1]);
    w[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

static inline void at6(const float m[6], float y[4]) {
    const float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
}

int gconv_f32_winograd_in_4x4_3x3__scalar(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, int64_t t_begin, int64_t t_end, float *v,
                                          size_t xi_stride, size_t c_stride) {
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

void gconv_f32_winograd_out_4x4_3x3__scalar(const gconv_dw_geom *g, size_t channels, const float *m,
                                            size_t xi_stride, size_t c_stride, const float *bias, float *out,
                                            size_t out_stride, int64_t t_begin, int64_t t_end,
                                            const gconv_minmax *clamp) {
    const int64_t tiles_w = (g->out_w + TILE - 1) / TILE;
    for (size_t c = 0; c < channels; c++) {
        float *plane = out + c * out_stride;
        for (int64_t t = t_begin; t < t_end; t++) {
            const int64_t oy0 = t / tiles_w * TILE, ox0 = t % tiles_w * TILE;
            float s[4][6], col[6], y[4];
            for (int j = 0; j < 6; j++) {
                for (int i = 0; i < 6; i++) col[i] = m[(size_t)(6 * i + j) * xi_stride + c * c_stride + (size_t)(t - t_begin)];
                at6(col, y); /* columns: A^T M */
                for (int r = 0; r < 4; r++) s[r][j] = y[r];
            }
            for (int r = 0; r < 4 && oy0 + r < g->out_h; r++) {
                at6(s[r], y); /* rows: (A^T M) A */
                for (int q = 0; q < 4 && ox0 + q < g->out_w; q++)
                    plane[(oy0 + r) * g->out_w + ox0 + q] = gconv_clampf(bias[c] + y[q], clamp);
            }
        }
    }
}

void gconv_winograd_weight(int r, const float *w, float u[GCONV_WINO_POINTS]) {
    /* G for the points 0, 1, -1, 2, -2, inf: rows are the filter polynomial's values there
     * (scaled to match B^T and A^T); F(4x4, 3x3) and F(2x2, 5x5) share B^T. */
    static const double G3[6][3] = {{1.0 / 4, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};
    static const double G5[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
                                    {0, 0, 0, 0, 1}};
    double gw[6][5];
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < r; k++) {
            double acc = 0;
            for (int q = 0; q < r; q++) acc += (r == 3 ? G3[i][q] : G5[i][q]) * w[q * r + k];
            gw[i][k] = acc;
        }
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double acc = 0;
            for (int k = 0; k < r; k++) acc += gw[i][k] * (r == 3 ? G3[j][k] : G5[j][k]);
            u[6 * i + j] = (float)acc;
        }
}
