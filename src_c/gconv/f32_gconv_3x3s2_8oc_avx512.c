/* f32-gconv-3x3s2-8oc-avx512: direct 3x3 stride-2 conv for few input channels per group, 8 output
 * channels x 32 output columns per pass (16 zmm accumulators).
 *
 * The case is a network's first layer (3 -> 32 at 224x224, 3 -> 64 at 112x112). As a GEMM its K is
 * 27, and the im2col (27 stride-2 gathers per row of output) cost almost as much as the GEMM
 * itself: 0.27 ms for 3 -> 32 at 224, of which the GEMM alone is 0.16. Here each input row is
 * loaded and split into even and odd columns once per 16 output columns (simd_avx512.h's
 * s2_row_taps, which the 3x3 stride-2 pools use too), and those three tap vectors feed 8 output
 * channels; each weight is broadcast once for the two column vectors. (16 channels x 16 columns,
 * one broadcast per FMA, ran 1.5x slower: twice the loads per FMA.)
 *
 * Columns that touch the padding are loaded with lane masks that enable only input columns inside
 * the row, so zero padding of any width reads nothing outside the plane; rows outside the plane
 * are skipped. Weights are the planner's packed panels, 8 wide: 8 biases, then per (input channel,
 * ky, kx) 8 weights; channels past `cout` are computed and not stored. Every output sums the bias
 * and then every tap in (channel, ky, kx) order, padding as w * 0, as the GEMM over the im2col
 * does: the same bits. (A NaN/Inf weight meeting padding: the planner marks those outputs.)
 *
 * Any other geometry (the table lists this kernel for 3x3 stride 2 dilation 1 only) takes
 * gconv_gconv_blocked_scalar over the same packing, so calling it directly is always safe. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#include <immintrin.h>
#include <math.h>

#include "../common/internal.h"
#include "../common/simd_avx512.h"

#define OC 8
#define LANES 16

/* Output row oy, columns [ox0, ox0 + 16 * NV) (the last vector masked to n outputs in all):
 * OC x NV accumulators, each weight broadcast once for NV FMAs. */
static inline __attribute__((always_inline)) void block(const gconv_dw_geom *g, size_t cin, size_t cout,
                                                        const float *in, const float *w, float *out, int64_t oy,
                                                        int64_t ox0, int64_t n, const int NV, const int MASKED,
                                                        const int CLAMPED, const gconv_minmax *clamp) {
    const int64_t in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
    const int64_t in_plane = in_h * in_w, out_plane = g->out_h * out_w;
    const int64_t col0 = 2 * ox0 - g->pad_left; /* kx = 0 of the first lane */
    /* MASKED: columns outside the row load as 0, which is what zero padding adds; else every
     * column read (col0 .. col0 + 32 per vector) is in the row, and plain loads do (masked loads
     * measured 15% of the kernel's time) */
    s2_masks m[2] = {{0, 0, 0}, {0, 0, 0}};
    if (MASKED) {
        m[0] = s2_columns_in_row(col0, in_w, n < LANES ? n : LANES);
        if (NV > 1) m[1] = s2_columns_in_row(col0 + 2 * LANES, in_w, n - LANES);
    }
    const __m512 zero = _mm512_setzero_ps();
    __m512 acc[2][OC];
#pragma GCC unroll 8
    for (int o = 0; o < OC; o++) acc[0][o] = acc[1][o] = _mm512_set1_ps(w[o]);
    const int64_t iy0 = 2 * oy - g->pad_top;
    for (size_t ci = 0; ci < cin; ci++) {
#pragma GCC unroll 3
        for (int64_t ky = 0; ky < 3; ky++) {
            const int64_t iy = iy0 + ky;
            __m512 x[2][3];
            if (iy < 0 || iy >= in_h) {
                /* a padding row: its taps multiply zeros, as the im2col's zero rows do */
                x[0][0] = x[0][1] = x[0][2] = x[1][0] = x[1][1] = x[1][2] = zero;
            } else {
                /* the address of column col0 (masked lanes are never read, also left of the row) */
                const float *r = in + ((int64_t)ci * in_plane + iy * in_w) + col0;
                s2_row_taps(r, MASKED ? &m[0] : NULL, zero, x[0]);
                if (NV > 1) s2_row_taps(r + 2 * LANES, MASKED ? &m[1] : NULL, zero, x[1]);
            }
            const float *wk = w + OC + ((int64_t)ci * 3 + ky) * 3 * OC;
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; kx++) {
#pragma GCC unroll 8
                for (int o = 0; o < OC; o++) {
                    const __m512 wv = _mm512_set1_ps(wk[kx * OC + o]);
                    acc[0][o] = _mm512_fmadd_ps(wv, x[0][kx], acc[0][o]);
                    if (NV > 1) acc[1][o] = _mm512_fmadd_ps(wv, x[1][kx], acc[1][o]);
                }
            }
        }
    }
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
    const __mmask16 store0 = lane_range(0, n), store1 = lane_range(0, n - LANES);
    float *dst = out + oy * out_w + ox0;
#pragma GCC unroll 8
    for (int o = 0; o < OC; o++) {
        if ((size_t)o >= cout) break; /* a constant index keeps acc[] in registers */
        _mm512_mask_storeu_ps(dst + (int64_t)o * out_plane, store0, CLAMPED ? clamp_ps(acc[0][o], lo, hi) : acc[0][o]);
        if (NV > 1)
            _mm512_mask_storeu_ps(dst + (int64_t)o * out_plane + LANES, store1,
                                  CLAMPED ? clamp_ps(acc[1][o], lo, hi) : acc[1][o]);
    }
}

/* Row by row, the column blocks inner: the input rows a row of outputs reads stay in L1 across its
 * blocks, and each output plane is written in runs of whole rows. Blocks whose 32 output columns
 * all exist and read only columns inside the row load without masks; with left padding, a first
 * block of 16 columns takes it, so that the blocks after it start inside the row. */
static inline __attribute__((always_inline)) void rows(const gconv_dw_geom *g, size_t cin, size_t cout,
                                                       const float *in, const float *w, float *out, int64_t oy_begin,
                                                       int64_t oy_end, const int CLAMPED, const gconv_minmax *clamp) {
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        for (int64_t ox0 = 0, n; ox0 < g->out_w; ox0 += n) {
            const int64_t width = ox0 == 0 && g->pad_left > 0 ? LANES : 2 * LANES;
            n = g->out_w - ox0 < width ? g->out_w - ox0 : width;
            const int64_t col0 = 2 * ox0 - g->pad_left; /* reads columns col0 .. col0 + 64 */
            if (n == 2 * LANES && col0 >= 0 && col0 + 4 * LANES + 1 <= g->in_w)
                block(g, cin, cout, in, w, out, oy, ox0, n, 2, 0, CLAMPED, clamp);
            else if (n > LANES)
                block(g, cin, cout, in, w, out, oy, ox0, n, 2, 1, CLAMPED, clamp);
            else
                block(g, cin, cout, in, w, out, oy, ox0, n, 1, 1, CLAMPED, clamp);
        }
    }
}

void gconv_f32_gconv_3x3s2_8oc__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                       const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                       const gconv_minmax *clamp) {
    if (!gconv_geom_is(g, 3, 2))
        gconv_gconv_blocked_scalar(g, cin, cout, OC, in, w, out, oy_begin, oy_end, clamp);
    else if (clamp->min == -INFINITY && clamp->max == INFINITY)
        rows(g, cin, cout, in, w, out, oy_begin, oy_end, 0, clamp);
    else
        rows(g, cin, cout, in, w, out, oy_begin, oy_end, 1, clamp);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
