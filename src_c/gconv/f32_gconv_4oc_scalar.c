/* f32-gconv-4oc-scalar: direct grouped conv for groups with few channels
 * (ResNeXt's 4 per group), up to 4 output channels of one group per call.
 * Scalar twin of the SIMD variants, and their border path. */
#include <math.h>

#include "../common/internal.h"

void gconv_gconv_point_scalar(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                              const float *w, int64_t oy, int64_t ox, float acc[GCONV_GCONV_OC]) {
    const size_t in_plane = (size_t)(g->in_h * g->in_w);
    const int64_t taps = g->kernel_h * g->kernel_w;
    for (size_t o = 0; o < GCONV_GCONV_OC; o++) acc[o] = w[o];
    const float *wt = w + GCONV_GCONV_OC;
    const int64_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *plane = in + ci * in_plane;
        for (int64_t ky = 0; ky < g->kernel_h; ky++) {
            const int64_t iy = iy0 + ky * g->dilation_h;
            if (iy < 0 || iy >= g->in_h) continue;
            for (int64_t kx = 0; kx < g->kernel_w; kx++) {
                const int64_t ix = ix0 + kx * g->dilation_w;
                if (ix < 0 || ix >= g->in_w) continue;
                const float v = plane[iy * g->in_w + ix];
                const float *wk = wt + ((int64_t)ci * taps + ky * g->kernel_w + kx) * GCONV_GCONV_OC;
                for (size_t o = 0; o < cout; o++) acc[o] += wk[o] * v;
            }
        }
    }
}

void gconv_f32_gconv_4oc__scalar(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp) {
    const size_t out_plane = (size_t)(g->out_h * g->out_w);
    float acc[GCONV_GCONV_OC];
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        for (int64_t ox = 0; ox < g->out_w; ox++) {
            gconv_gconv_point_scalar(g, cin, cout, in, w, oy, ox, acc);
            for (size_t o = 0; o < cout; o++) out[o * out_plane + oy * g->out_w + ox] = gconv_clampf(acc[o], clamp);
        }
    }
}

/* Any geometry over panels packed `oc` wide (the specialized kernels' other geometries): every tap in
 * (channel, ky, kx) order, padding skipped. */
void gconv_gconv_blocked_scalar(const gconv_dw_geom *g, size_t cin, size_t cout, size_t oc, const float *in,
                                const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    for (size_t o = 0; o < cout; o++)
        for (int64_t oy = oy_begin; oy < oy_end; oy++)
            for (int64_t ox = 0; ox < g->out_w; ox++) {
                float acc = w[o];
                const float *wk = w + oc + o;
                for (size_t ci = 0; ci < cin; ci++)
                    for (int64_t ky = 0; ky < g->kernel_h; ky++)
                        for (int64_t kx = 0; kx < g->kernel_w; kx++, wk += oc) {
                            const int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
                            const int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
                            if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w)
                                acc = fmaf(*wk, in[(int64_t)ci * in_plane + iy * g->in_w + ix], acc);
                        }
                out[(int64_t)o * out_plane + oy * g->out_w + ox] = gconv_clampf(acc, clamp);
            }
}
