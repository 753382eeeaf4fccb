/* f32-winograd-2x2-5x5-scalar: the Winograd F(2x2, 5x5) input and output transforms, one tile
 * at a time (contracts in gconv.h: tiles of 2x2 outputs, 6x6 windows). Scalar twin of the SIMD
 * variants. Same points as F(4x4, 3x3), so the same B^T (shared in winograd_scalar.h);
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]
 * and G in gconv_winograd_weight. */
#define TILE 2 /* F(2x2, 5x5) */
#define WINO_IN_FN gconv_f32_winograd_in_2x2_5x5__scalar
#define WINO_OUT_FN gconv_f32_winograd_out_2x2_5x5__scalar

static inline void at6(const float m[6], float y[2]) {
    y[0] = m[0] + (m[1] + m[2]) + (m[3] + m[4]);
    y[1] = (m[1] - m[2]) + 2.0f * (m[3] - m[4]) + m[5];
}

#include "winograd_scalar.h"
