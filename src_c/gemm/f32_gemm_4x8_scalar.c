/* f32-gemm-4x8-scalar: the portable twin of every SIMD GEMM microkernel. */
#include "../common/internal.h"

#define MR 4
#define NR 8

void gconv_f32_gemm_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride,
                                const gconv_minmax *clamp) {
    float acc[MR][NR];
    for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++) acc[i][j] = w[i];
    const float *wk = w + MR;
    for (size_t k = 0; k < kc; k++) {
        const float *brow = b + k * b_stride;
        for (size_t i = 0; i < MR; i++) {
            const float a = wk[i];
            for (size_t j = 0; j < nc; j++) acc[i][j] += a * brow[j];
        }
        wk += MR;
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nc; j++) c[i * c_stride + j] = gconv_clampf(acc[i][j], clamp);
}
