/* f32-dwconv-generic-scalar: any kernel, stride, dilation and padding. */
#include "../common/internal.h"

float gconv_dw_point_scalar(const gconv_dw_geom *g, const float *in, const float *w,
                            int64_t oy, int64_t ox) {
    float acc = w[0];
    const float *taps = w + 1;
    const int64_t iy0 = oy * g->stride_h - g->pad_top;
    const int64_t ix0 = ox * g->stride_w - g->pad_left;
    for (int64_t ky = 0; ky < g->kernel_h; ky++) {
        const int64_t iy = iy0 + ky * g->dilation_h;
        if (iy < 0 || iy >= g->in_h) continue;
        const float *row = in + iy * g->in_w;
        for (int64_t kx = 0; kx < g->kernel_w; kx++) {
            const int64_t ix = ix0 + kx * g->dilation_w;
            if (ix < 0 || ix >= g->in_w) continue;
            acc += taps[ky * g->kernel_w + kx] * row[ix];
        }
    }
    return acc;
}

void gconv_f32_dwconv_generic__scalar(const gconv_dw_geom *g, const float *in, const float *w,
                                      float *out, int64_t oy_begin, int64_t oy_end,
                                      const gconv_minmax *clamp) {
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        float *orow = out + oy * g->out_w;
        for (int64_t ox = 0; ox < g->out_w; ox++)
            orow[ox] = gconv_clampf(gconv_dw_point_scalar(g, in, w, oy, ox), clamp);
    }
}
