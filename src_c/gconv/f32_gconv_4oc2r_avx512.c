/* f32-gconv-4oc2r-avx512: direct grouped conv (the f32-gconv-4oc contract), two output rows x 4
 * output channels x 32 columns per pass: 16 zmm accumulators kept in registers (every index
 * into them is a constant after unrolling; f32-gconv-4oc-avx512's are spilled on each tap).
 * With dilation 1 the two rows share all but one of their input rows, so each input vector
 * loaded feeds up to 8 FMAs and each weight broadcast 4. Stride 1 only, as the 4oc kernel's
 * vector path; other geometries, dilated rows and a last odd row go to f32-gconv-4oc-avx512.
 * Borders: masked loads per tap (nothing outside a row is read), masked stores. */
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
#define MAX_KW 16

/* Rows oy, oy + 1, columns [ox, ox + 32), all 4 channel slots (stores limited to cout). */
static inline void block_2r(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in, const float *w,
                            float *out, size_t out_plane, int64_t oy, int64_t ox, __m512 lo, __m512 hi) {
    const size_t in_plane = (size_t)(g->in_h * g->in_w);
    const int64_t kh = g->kernel_h, kw = g->kernel_w, taps = kh * kw;
    __mmask16 m0[MAX_KW], m1[MAX_KW];
    for (int64_t kx = 0; kx < kw; kx++) {
        const int64_t first = ox - g->pad_left + kx * g->dilation_w;
        m0[kx] = lane_range(-first, g->in_w - first);
        m1[kx] = lane_range(-first - LANES, g->in_w - first - LANES);
    }
    __m512 a0[OC], a1[OC], b0[OC], b1[OC]; /* row 0: a, row 1: b; vectors 0, 1 */
#pragma GCC unroll 4
    for (int o = 0; o < OC; o++) a0[o] = a1[o] = b0[o] = b1[o] = _mm512_set1_ps(w[o]);
    const int64_t iy_top = oy - g->pad_top;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *plane = in + ci * in_plane;
        const float *wc = w + OC + (int64_t)ci * taps * OC;
        for (int64_t q = 0; q <= kh; q++) { /* input row iy_top + q: tap row q of row 0, q - 1 of row 1 */
            const int64_t iy = iy_top + q;
            if (iy < 0 || iy >= g->in_h) continue;
            const float *src = plane + iy * g->in_w + ox - g->pad_left;
            const float *w0 = wc + q * kw * OC, *w1 = wc + (q - 1) * kw * OC;
            for (int64_t kx = 0; kx < kw; kx++, src += g->dilation_w, w0 += OC, w1 += OC) {
                const __m512 v0 = _mm512_maskz_loadu_ps(m0[kx], src);
                const __m512 v1 = _mm512_maskz_loadu_ps(m1[kx], src + LANES);
                if (q < kh) {
#pragma GCC unroll 4
                    for (int o = 0; o < OC; o++) {
                        const __m512 s = _mm512_set1_ps(w0[o]);
                        a0[o] = _mm512_fmadd_ps(s, v0, a0[o]);
                        a1[o] = _mm512_fmadd_ps(s, v1, a1[o]);
                    }
                }
                if (q > 0) {
#pragma GCC unroll 4
                    for (int o = 0; o < OC; o++) {
                        const __m512 s = _mm512_set1_ps(w1[o]);
                        b0[o] = _mm512_fmadd_ps(s, v0, b0[o]);
                        b1[o] = _mm512_fmadd_ps(s, v1, b1[o]);
                    }
                }
            }
        }
    }
    const __mmask16 s0 = lane_range(0, g->out_w - ox), s1 = lane_range(0, g->out_w - ox - LANES);
    float *row = out + oy * g->out_w + ox;
#pragma GCC unroll 4
    for (int o = 0; o < OC; o++) {
        if ((size_t)o < cout) {
            float *r = row + (size_t)o * out_plane;
            _mm512_mask_storeu_ps(r, s0, clamp_ps(a0[o], lo, hi));
            _mm512_mask_storeu_ps(r + LANES, s1, clamp_ps(a1[o], lo, hi));
            _mm512_mask_storeu_ps(r + g->out_w, s0, clamp_ps(b0[o], lo, hi));
            _mm512_mask_storeu_ps(r + g->out_w + LANES, s1, clamp_ps(b1[o], lo, hi));
        }
    }
}

void gconv_f32_gconv_4oc2r__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                   const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                   const gconv_minmax *clamp) {
    if (g->stride_w != 1 || g->stride_h != 1 || g->dilation_h != 1 || g->kernel_w > MAX_KW) {
        gconv_f32_gconv_4oc__avx512(g, cin, cout, in, w, out, oy_begin, oy_end, clamp);
        return;
    }
    const size_t out_plane = (size_t)(g->out_h * g->out_w);
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
    int64_t oy = oy_begin;
    for (; oy + 2 <= oy_end; oy += 2)
        for (int64_t ox = 0; ox < g->out_w; ox += 2 * LANES) block_2r(g, cin, cout, in, w, out, out_plane, oy, ox, lo, hi);
    if (oy < oy_end) gconv_f32_gconv_4oc__avx512(g, cin, cout, in, w, out, oy, oy_end, clamp);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
