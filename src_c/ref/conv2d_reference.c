/* Reference grouped convolution: plain direct loops, float accumulation in
 * double so that it can serve as the oracle for every optimized path. */
#include "../common/internal.h"

void gconv_conv2d_reference(const gconv_conv_desc *d, const gconv_conv_geom *g,
                            const float *x, const float *weight, const float *bias, float *y,
                            int num_threads) {
    const int64_t cin_g = d->c_in / d->groups, cout_g = d->c_out / d->groups;
    const int64_t planes = g->batch * d->c_out;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const int64_t ksize = d->kernel_h * d->kernel_w;
    (void)num_threads;
    const gconv_fpenv team_fp = gconv_fpenv_current();
#ifdef _OPENMP
#pragma omp parallel num_threads(num_threads)
#endif
    {
        GCONV_FPENV_ADOPT(team_fp);
        GCONV_OMP("omp for schedule(static)")
        for (int64_t p = 0; p < planes; p++) {
            const int64_t n = p / d->c_out, co = p % d->c_out, grp = co / cout_g;
            const float *xg = x + (n * d->c_in + grp * cin_g) * in_plane;
            const float *wco = weight + co * cin_g * ksize;
            float *yp = y + p * out_plane;
            for (int64_t oy = 0; oy < g->out_h; oy++) {
                for (int64_t ox = 0; ox < g->out_w; ox++) {
                    double acc = bias ? (double)bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cin_g; ci++) {
                        for (int64_t ky = 0; ky < d->kernel_h; ky++) {
                            const int64_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                            if (iy < 0 || iy >= g->in_h) continue;
                            for (int64_t kx = 0; kx < d->kernel_w; kx++) {
                                const int64_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                                if (ix < 0 || ix >= g->in_w) continue;
                                acc += (double)wco[(ci * d->kernel_h + ky) * d->kernel_w + kx] *
                                       (double)xg[ci * in_plane + iy * g->in_w + ix];
                            }
                        }
                    }
                    yp[oy * g->out_w + ox] = gconv_clampf((float)acc, &d->clamp);
                }
            }
        }
    }
}
