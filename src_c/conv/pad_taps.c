/* NaN/Inf weight taps over zero padding.
 *
 * A zero-padded convolution is defined as a sum over every tap, padded zeros included, so where a NaN
 * or +-Inf tap lands on padding the output is NaN (0 * Inf = 0 * NaN = NaN, and NaN absorbs the rest
 * of the sum and any activation). That is what torch computes in float64 and on its im2col paths.
 * Most of our kernels never read the padding (they clip the window), some multiply padded columns
 * but skip padded rows, the im2col GEMM multiplies everything: so the plan lists, at creation, the
 * (output channel, ky, kx) taps that are non-finite for any input channel, and after a run writes NaN
 * to the outputs whose window puts one of them on padding. Finite weights (no list) cost nothing, and
 * every algorithm, ISA and thread count gives the same NaN positions. */
#include "pad_taps.h"

#include <math.h>
#include <stdlib.h>

gconv_status gconv_pad_taps_find(const gconv_conv_desc *d, const float *weight, int64_t **taps, size_t *count) {
    *taps = NULL;
    *count = 0;
    if (d->pad_top == 0 && d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0) return GCONV_OK;
    const int64_t cin_g = d->c_in / d->groups, ksize = d->kernel_h * d->kernel_w;
    size_t n = 0, cap = 0;
    int64_t *list = NULL;
    for (int64_t co = 0; co < d->c_out; co++) {
        const float *w = weight + co * cin_g * ksize;
        for (int64_t k = 0; k < ksize; k++) {
            int64_t ci = 0;
            while (ci < cin_g && isfinite(w[ci * ksize + k])) ci++;
            if (ci == cin_g) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16; /* at most c_out * ksize entries: bounded by the weight count */
                int64_t *grown = realloc(list, cap * 3 * sizeof(int64_t));
                if (!grown) {
                    free(list);
                    return gconv_fail(GCONV_ENOMEM, "out of memory listing non-finite weight taps");
                }
                list = grown;
            }
            list[3 * n] = co;
            list[3 * n + 1] = k / d->kernel_w;
            list[3 * n + 2] = k % d->kernel_w;
            n++;
        }
    }
    *taps = list;
    *count = n;
    return GCONV_OK;
}

/* The outputs o in [0, out) whose tap at offset `off` (= k * dilation - pad) reads inside [0, in):
 * [*lo, *hi), from 0 <= o * stride + off < in. */
static void inside_range(int64_t in, int64_t out, int64_t stride, int64_t off, int64_t *lo, int64_t *hi) {
    const int64_t a = -off, b = in - off; /* stride * o in [a, b) */
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = b <= 0 ? 0 : (b + stride - 1) / stride;
    if (*lo > out) *lo = out;
    if (*hi > out) *hi = out;
    if (*hi < *lo) *hi = *lo;
}

void gconv_pad_taps_mark(const gconv_conv_desc *d, const gconv_conv_geom *g, const int64_t *taps, size_t count,
                         float *y) {
    const int64_t out_plane = g->out_h * g->out_w;
    for (size_t t = 0; t < count; t++) {
        const int64_t co = taps[3 * t], ky = taps[3 * t + 1], kx = taps[3 * t + 2];
        int64_t y0, y1, x0, x1;
        inside_range(g->in_h, g->out_h, d->stride_h, ky * d->dilation_h - d->pad_top, &y0, &y1);
        inside_range(g->in_w, g->out_w, d->stride_w, kx * d->dilation_w - d->pad_left, &x0, &x1);
        for (int64_t n = 0; n < g->batch; n++) {
            float *plane = y + (n * d->c_out + co) * out_plane;
            for (int64_t oy = 0; oy < g->out_h; oy++) {
                float *row = plane + oy * g->out_w;
                const int inside = oy >= y0 && oy < y1;
                for (int64_t ox = 0; ox < (inside ? x0 : g->out_w); ox++) row[ox] = NAN;
                for (int64_t ox = inside ? x1 : g->out_w; ox < g->out_w; ox++) row[ox] = NAN;
            }
        }
    }
}
