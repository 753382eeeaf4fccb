/* f32-gemm-4x1-scalar: one output pixel per call, the scalar twin of the one-pixel tiles;
 * f32-gemm-4x4-scalar: up to four, each column this same sum (the twin of f32-gemm-8x4-avx512).
 *
 * A GEMM with fewer pixels than a wide tile (a Linear layer, an SE block's 1x1 convs at batch 1)
 * would make a wide kernel compute NR columns to keep one (16x the work on AVX-512). The one-pixel
 * kernels read the same packed panels as their ISA's wide kernel and run along its MR output
 * channels instead, with four independent sums over k to hide the FMA latency. */
#include "../common/internal.h"

#define MR 4

void gconv_f32_gemm_4x1__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b, size_t b_stride,
                                float *c, size_t c_stride, const gconv_minmax *clamp) {
    (void)nc;
    float acc[4][MR];
    for (int i = 0; i < MR; i++) {
        acc[0][i] = w[i];
        acc[1][i] = acc[2][i] = acc[3][i] = 0.0f;
    }
    const float *wk = w + MR;
    size_t k = 0;
    for (; k + 4 <= kc; k += 4, wk += 4 * MR, b += 4 * b_stride)
        for (int u = 0; u < 4; u++)
            for (int i = 0; i < MR; i++) acc[u][i] += wk[u * MR + i] * b[u * b_stride];
    for (; k < kc; k++, wk += MR, b += b_stride)
        for (int i = 0; i < MR; i++) acc[0][i] += wk[i] * b[0];
    for (size_t i = 0; i < mr; i++) c[i * c_stride] = gconv_clampf((acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]), clamp);
}

void gconv_f32_gemm_4x4__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b, size_t b_stride,
                                float *c, size_t c_stride, const gconv_minmax *clamp) {
    for (size_t j = 0; j < nc; j++) gconv_f32_gemm_4x1__scalar(mr, 1, kc, w, b + j, b_stride, c + j, c_stride, clamp);
}
