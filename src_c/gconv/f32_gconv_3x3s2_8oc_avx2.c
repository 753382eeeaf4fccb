/* f32-gconv-3x3s2-8oc-avx2: the AVX2 form of f32-gconv-3x3s2-8oc-avx512 (first layers: dense, few
 * input channels, 3x3 stride 2), 8 output channels x 8 output columns per pass.
 *
 * With 16 ymm registers the pass keeps 8 accumulators, the three tap vectors of the current input
 * row and a broadcast weight, so each weight is broadcast once per FMA (AVX2 has no broadcast
 * operand; the broadcast is a load, and two loads and two FMAs issue per cycle). An input row's
 * even and odd columns come from two loads and an in-lane shuffle plus a cross-lane permute per
 * vector; tap 2 (columns + 2) from two more loads at r + 2.
 *
 * Padding: blocks that touch it load with maskload (masked lanes are never read, and are 0);
 * padding rows add w * 0, as the im2col does, so the bits are the GEMM's. Any other geometry takes
 * gconv_gconv_blocked_scalar over the same packing. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>
#include <math.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"

#define OC 8
#define LANES 8

/* Output row oy, columns [ox0, ox0 + n), n <= 8. MASKED == 0: all 8 outputs exist and every column
 * read (col0 .. col0 + 17) is inside the row. */
static inline __attribute__((always_inline)) void block(const gconv_dw_geom *g, size_t cin, size_t cout,
                                                        const float *in, const float *w, float *out, int64_t oy,
                                                        int64_t ox0, int64_t n, const int MASKED, const int CLAMPED,
                                                        const gconv_minmax *clamp) {
    const int64_t in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
    const int64_t in_plane = in_h * in_w, out_plane = g->out_h * out_w;
    const int64_t col0 = 2 * ox0 - g->pad_left; /* kx = 0 of the first lane */
    /* Loads at col0 + {0, 8, 2, 10}: lanes inside the row and among the columns the n outputs use
     * (2n from col0, 2n - 1 from col0 + 2). */
    __m256i m[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    if (MASKED) {
        static const int64_t offset[4] = {0, LANES, 2, 2 + LANES};
        for (int j = 0; j < 4; j++) {
            const int64_t first = col0 + offset[j], want = (j < 2 ? 2 * n : 2 * n - 1) - (offset[j] & LANES);
            m[j] = lane_range(-first, in_w - first < want ? in_w - first : want);
        }
    }
    __m256 acc[OC];
#pragma GCC unroll 8
    for (int o = 0; o < OC; o++) acc[o] = _mm256_set1_ps(w[o]);
    const int64_t iy0 = 2 * oy - g->pad_top;
    for (size_t ci = 0; ci < cin; ci++) {
#pragma GCC unroll 3
        for (int64_t ky = 0; ky < 3; ky++) {
            const int64_t iy = iy0 + ky;
            __m256 x[3];
            if (iy < 0 || iy >= in_h) {
                /* a padding row: its taps multiply zeros, as the im2col's zero rows do */
                x[0] = x[1] = x[2] = _mm256_setzero_ps();
            } else {
                /* the address of column col0 (masked lanes are never read, also left of the row) */
                const float *r = in + ((int64_t)ci * in_plane + iy * in_w) + col0;
                const __m256 a0 = MASKED ? _mm256_maskload_ps(r, m[0]) : _mm256_loadu_ps(r);
                const __m256 a1 = MASKED ? _mm256_maskload_ps(r + LANES, m[1]) : _mm256_loadu_ps(r + LANES);
                const __m256 b0 = MASKED ? _mm256_maskload_ps(r + 2, m[2]) : _mm256_loadu_ps(r + 2);
                const __m256 b1 = MASKED ? _mm256_maskload_ps(r + 2 + LANES, m[3]) : _mm256_loadu_ps(r + 2 + LANES);
                x[0] = even_floats(a0, a1);
                x[1] = odd_floats(a0, a1);
                x[2] = even_floats(b0, b1);
            }
            const float *wk = w + OC + ((int64_t)ci * 3 + ky) * 3 * OC;
#pragma GCC unroll 3
            for (int kx = 0; kx < 3; kx++)
#pragma GCC unroll 8
                for (int o = 0; o < OC; o++) acc[o] = _mm256_fmadd_ps(_mm256_set1_ps(wk[kx * OC + o]), x[kx], acc[o]);
        }
    }
    const __m256 lo = _mm256_set1_ps(clamp->min), hi = _mm256_set1_ps(clamp->max);
    const __m256i store = lane_mask((size_t)n);
    float *dst = out + oy * out_w + ox0;
#pragma GCC unroll 8
    for (int o = 0; o < OC; o++) {
        if ((size_t)o >= cout) break; /* a constant index keeps acc[] in registers */
        const __m256 v = CLAMPED ? clamp_ps(acc[o], lo, hi) : acc[o];
        if (MASKED)
            _mm256_maskstore_ps(dst + (int64_t)o * out_plane, store, v);
        else
            _mm256_storeu_ps(dst + (int64_t)o * out_plane, v);
    }
}

static inline __attribute__((always_inline)) void rows(const gconv_dw_geom *g, size_t cin, size_t cout,
                                                       const float *in, const float *w, float *out, int64_t oy_begin,
                                                       int64_t oy_end, const int CLAMPED, const gconv_minmax *clamp) {
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        for (int64_t ox0 = 0; ox0 < g->out_w; ox0 += LANES) {
            const int64_t n = g->out_w - ox0 < LANES ? g->out_w - ox0 : LANES;
            const int64_t col0 = 2 * ox0 - g->pad_left;
            if (n == LANES && col0 >= 0 && col0 + 2 * LANES + 2 <= g->in_w)
                block(g, cin, cout, in, w, out, oy, ox0, n, 0, CLAMPED, clamp);
            else
                block(g, cin, cout, in, w, out, oy, ox0, n, 1, CLAMPED, clamp);
        }
    }
}

void gconv_f32_gconv_3x3s2_8oc__avx2(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
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
