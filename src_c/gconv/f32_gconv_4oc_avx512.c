/* f32-gconv-4oc-avx512: direct grouped conv, 4 output channels x 32 output
 * columns per pass (8 zmm accumulators). Each input vector loaded feeds 4
 * FMAs, which is why groups with few channels beat a GEMM with a K of 4*9:
 * no im2col, no zero-padded panel rows.
 * Stride-1 rows are vectorized end to end: at the borders each tap's lanes
 * that fall in the zero padding are masked off, so the masked load never
 * touches memory outside the row. Other strides take the scalar point path. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx512.h"

#define OC GCONV_GCONV_OC
#define LANES 16
#define MAX_KW 16 /* wider kernels take the scalar path */

/* Two vectors (32 columns) of 4 output channels at output column ox of row oy. */
static inline void block_2x(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in, const float *w,
                            float *out_row, size_t out_plane, int64_t oy, int64_t ox, __m512 lo, __m512 hi) {
    const size_t in_plane = (size_t)(g->in_h * g->in_w);
    const int64_t taps = g->kernel_h * g->kernel_w;
    __mmask16 tap0[MAX_KW], tap1[MAX_KW];
    for (int64_t kx = 0; kx < g->kernel_w; kx++) {
        /* lane l reads input column ox + l - pad_left + kx*dilation: valid within [0, in_w) */
        const int64_t first = ox - g->pad_left + kx * g->dilation_w;
        tap0[kx] = lane_range(-first, g->in_w - first);
        tap1[kx] = lane_range(-first - LANES, g->in_w - first - LANES);
    }
    __m512 acc0[OC], acc1[OC];
    for (int o = 0; o < OC; o++) acc0[o] = acc1[o] = _mm512_set1_ps(w[o]);
    const int64_t iy0 = oy * g->stride_h - g->pad_top;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *plane = in + ci * in_plane;
        for (int64_t ky = 0; ky < g->kernel_h; ky++) {
            const int64_t iy = iy0 + ky * g->dilation_h;
            if (iy < 0 || iy >= g->in_h) continue; /* zero padding rows */
            const float *src = plane + iy * g->in_w + ox - g->pad_left;
            const float *wk = w + OC + ((int64_t)ci * taps + ky * g->kernel_w) * OC;
            for (int64_t kx = 0; kx < g->kernel_w; kx++, src += g->dilation_w, wk += OC) {
                const __m512 v0 = _mm512_maskz_loadu_ps(tap0[kx], src);
                const __m512 v1 = _mm512_maskz_loadu_ps(tap1[kx], src + LANES);
#pragma GCC unroll 4
                for (int o = 0; o < OC; o++) {
                    const __m512 a = _mm512_set1_ps(wk[o]);
                    acc0[o] = _mm512_fmadd_ps(a, v0, acc0[o]);
                    acc1[o] = _mm512_fmadd_ps(a, v1, acc1[o]);
                }
            }
        }
    }
    const __mmask16 st0 = lane_range(0, g->out_w - ox), st1 = lane_range(0, g->out_w - ox - LANES);
    for (size_t o = 0; o < cout; o++) {
        _mm512_mask_storeu_ps(out_row + o * out_plane + ox, st0, clamp_ps(acc0[o], lo, hi));
        _mm512_mask_storeu_ps(out_row + o * out_plane + ox + LANES, st1, clamp_ps(acc1[o], lo, hi));
    }
}

void gconv_f32_gconv_4oc__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp) {
    if (g->stride_w != 1 || g->kernel_w > MAX_KW) {
        gconv_f32_gconv_4oc__scalar(g, cin, cout, in, w, out, oy_begin, oy_end, clamp);
        return;
    }
    const size_t out_plane = (size_t)(g->out_h * g->out_w);
    const __m512 vlo = _mm512_set1_ps(clamp->min), vhi = _mm512_set1_ps(clamp->max);
    for (int64_t oy = oy_begin; oy < oy_end; oy++)
        for (int64_t ox = 0; ox < g->out_w; ox += 2 * LANES)
            block_2x(g, cin, cout, in, w, out + oy * g->out_w, out_plane, oy, ox, vlo, vhi);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
