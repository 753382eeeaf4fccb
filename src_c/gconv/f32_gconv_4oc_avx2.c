/* f32-gconv-4oc-avx2: direct grouped conv, 4 output channels x 16 output
 * columns per pass (8 ymm accumulators + 2 inputs + 1 broadcast). Same plan
 * as the AVX-512 variant: stride-1 rows are vectorized end to end, border taps
 * use masked loads (vmaskmov never touches masked-off lanes), other strides
 * take the scalar point path. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"

#define OC GCONV_GCONV_OC
#define LANES 8
#define MAX_KW 16 /* wider kernels take the scalar path */

/* Two vectors (16 columns) of 4 output channels at output column ox of row oy. */
static inline void block_2x(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in, const float *w,
                            float *out_row, size_t out_plane, int64_t oy, int64_t ox, __m256 lo, __m256 hi) {
    const size_t in_plane = (size_t)(g->in_h * g->in_w);
    const int64_t taps = g->kernel_h * g->kernel_w;
    /* Interior blocks (all taps inside the row) use plain loads: vmaskmov is slow on some cores. */
    const int interior = ox - g->pad_left >= 0 &&
                         ox - g->pad_left + (g->kernel_w - 1) * g->dilation_w + 2 * LANES <= g->in_w;
    __m256i tap0[MAX_KW], tap1[MAX_KW];
    for (int64_t kx = 0; kx < g->kernel_w && !interior; kx++) {
        const int64_t first = ox - g->pad_left + kx * g->dilation_w;
        tap0[kx] = lane_range(-first, g->in_w - first);
        tap1[kx] = lane_range(-first - LANES, g->in_w - first - LANES);
    }
    __m256 acc0[OC], acc1[OC];
    for (int o = 0; o < OC; o++) acc0[o] = acc1[o] = _mm256_set1_ps(w[o]);
    const int64_t iy0 = oy * g->stride_h - g->pad_top;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *plane = in + ci * in_plane;
        for (int64_t ky = 0; ky < g->kernel_h; ky++) {
            const int64_t iy = iy0 + ky * g->dilation_h;
            if (iy < 0 || iy >= g->in_h) continue; /* zero padding rows */
            const float *src = plane + iy * g->in_w + ox - g->pad_left;
            const float *wk = w + OC + ((int64_t)ci * taps + ky * g->kernel_w) * OC;
            for (int64_t kx = 0; kx < g->kernel_w; kx++, src += g->dilation_w, wk += OC) {
                const __m256 v0 = interior ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, tap0[kx]);
                const __m256 v1 = interior ? _mm256_loadu_ps(src + LANES) : _mm256_maskload_ps(src + LANES, tap1[kx]);
#pragma GCC unroll 4
                for (int o = 0; o < OC; o++) {
                    const __m256 a = _mm256_broadcast_ss(wk + o);
                    acc0[o] = _mm256_fmadd_ps(a, v0, acc0[o]);
                    acc1[o] = _mm256_fmadd_ps(a, v1, acc1[o]);
                }
            }
        }
    }
    const __m256i st0 = lane_range(0, g->out_w - ox), st1 = lane_range(0, g->out_w - ox - LANES);
    for (size_t o = 0; o < cout; o++) {
        _mm256_maskstore_ps(out_row + o * out_plane + ox, st0, clamp_ps(acc0[o], lo, hi));
        _mm256_maskstore_ps(out_row + o * out_plane + ox + LANES, st1, clamp_ps(acc1[o], lo, hi));
    }
}

void gconv_f32_gconv_4oc__avx2(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                               const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                               const gconv_minmax *clamp) {
    if (g->stride_w != 1 || g->kernel_w > MAX_KW) {
        gconv_f32_gconv_4oc__scalar(g, cin, cout, in, w, out, oy_begin, oy_end, clamp);
        return;
    }
    const size_t out_plane = (size_t)(g->out_h * g->out_w);
    const __m256 vlo = _mm256_set1_ps(clamp->min), vhi = _mm256_set1_ps(clamp->max);
    for (int64_t oy = oy_begin; oy < oy_end; oy++)
        for (int64_t ox = 0; ox < g->out_w; ox += 2 * LANES)
            block_2x(g, cin, cout, in, w, out + oy * g->out_w, out_plane, oy, ox, vlo, vhi);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
