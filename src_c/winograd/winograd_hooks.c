/* Test hooks for the Winograd transforms: the binding sees table entries only through the
 * fields its Cython declaration lists, so it calls these with the entry's index. */
#include "winograd.h"

int gconv_winograd_in_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride,
                           int64_t t_begin, int64_t t_end, float *v, size_t xi_stride, size_t c_stride) {
    size_t n;
    const gconv_kernel_info *k = gconv_kernel_table(&n) + index;
    return k->wino_in(g, channels, in, in_stride, t_begin, t_end, v, xi_stride, c_stride);
}

void gconv_winograd_out_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *m, size_t xi_stride,
                             size_t c_stride, const float *bias, float *out, size_t out_stride, int64_t t_begin,
                             int64_t t_end, const gconv_minmax *clamp) {
    size_t n;
    const gconv_kernel_info *k = gconv_kernel_table(&n) + index;
    k->wino_out(g, channels, m, xi_stride, c_stride, bias, out, out_stride, t_begin, t_end, clamp);
}
