/* f32-winograd-4x4-3x3-scalar: the Winograd F(4x4, 3x3) input and output transforms, one
 * tile at a time (contracts in gconv.h). Scalar twin of the SIMD variants, which vectorize
 * the same formulas across tiles.
 *
 * Interpolation points 0, +-1, +-2, inf (Lavin & Gray):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] */
#define TILE 4 /* F(4x4, 3x3): outputs per tile side */
#define WINO_IN_FN gconv_f32_winograd_in_4x4_3x3__scalar
#define WINO_OUT_FN gconv_f32_winograd_out_4x4_3x3__scalar

static inline void at6(const float m[6], float y[4]) {
    const float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
}

#include "winograd_scalar.h"

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
