/* Reference transposed convolution: for each output pixel, gather the input
 * pixels whose taps land on it (oy + pad_top - ky*dilation_h a non-negative
 * multiple of stride_h, likewise for x), accumulating in double. The oracle for
 * the GEMM and direct paths. */
#include "deconv_internal.h"

void gconv_deconv2d_reference(const gconv_deconv_desc *d, const gconv_conv_geom *g, const float *x,
                              const float *weight, const float *bias, float *y, int num_threads) {
    const int64_t cin_g = d->c_in / d->groups, cout_g = d->c_out / d->groups;
    const int64_t planes = g->batch * d->c_out;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const int64_t kh = d->kernel_h, kw = d->kernel_w;
    (void)num_threads;
    const gconv_fpenv team_fp = gconv_fpenv_current();
#ifdef _OPENMP
#pragma omp parallel num_threads(num_threads) if (num_threads > 1 && planes > 1)
#endif
    {
        GCONV_FPENV_ADOPT(team_fp);
        GCONV_OMP("omp for schedule(static)")
        for (int64_t p = 0; p < planes; p++) {
            const int64_t n = p / d->c_out, co = p % d->c_out, grp = co / cout_g, j = co % cout_g;
            const float *xg = x + (n * d->c_in + grp * cin_g) * in_plane;
            float *yp = y + p * out_plane;
            for (int64_t oy = 0; oy < g->out_h; oy++) {
                for (int64_t ox = 0; ox < g->out_w; ox++) {
                    double acc = bias ? (double)bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cin_g; ci++) {
                        /* weight[grp*cin_g + ci, j, :, :] */
                        const float *wk = weight + (((grp * cin_g + ci) * cout_g + j) * kh) * kw;
                        for (int64_t ky = 0; ky < kh; ky++) {
                            const int64_t ty = oy + d->pad_top - ky * d->dilation_h;
                            if (ty < 0 || ty % d->stride_h) continue;
                            const int64_t iy = ty / d->stride_h;
                            if (iy >= g->in_h) continue;
                            for (int64_t kx = 0; kx < kw; kx++) {
                                const int64_t tx = ox + d->pad_left - kx * d->dilation_w;
                                if (tx < 0 || tx % d->stride_w) continue;
                                const int64_t ix = tx / d->stride_w;
                                if (ix >= g->in_w) continue;
                                acc += (double)wk[ky * kw + kx] * (double)xg[ci * in_plane + iy * g->in_w + ix];
                            }
                        }
                    }
                    yp[oy * g->out_w + ox] = gconv_clampf((float)acc, &d->clamp);
                }
            }
        }
    }
}
