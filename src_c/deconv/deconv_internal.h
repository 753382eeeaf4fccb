/* Internal pieces of the transposed-convolution operator (src_c/deconv). */
#ifndef GCONV_DECONV_INTERNAL_H
#define GCONV_DECONV_INTERNAL_H

#include "../common/internal.h"
#include "gconv_deconv.h"

/* floor(a / b) and ceil(a / b) for b > 0 and any sign of a. */
static inline int64_t gconv_floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
static inline int64_t gconv_ceil_div(int64_t a, int64_t b) { return -gconv_floor_div(-a, b); }

/* ---- Direct (gather) kernel -------------------------------------------------
 * Output rows [oy_begin, oy_end) of one output plane of a transposed conv, from
 * `cin` input planes (in + ci*in_plane, each in_h x in_w). g holds the transposed
 * conv's geometry (in/out sizes, kernel, stride, dilation, pad_top, pad_left).
 * w: the bias, then cin*kernel_h*kernel_w taps (ci, ky, kx) of this output channel.
 * Every output pixel is written: clamp(bias + sum of the taps that hit it). */
typedef void (*gconv_deconv_direct_fn)(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in,
                                       const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                       const gconv_minmax *clamp);

void gconv_deconv_direct__scalar(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp);
void gconv_deconv_direct__avx2(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in,
                               const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                               const gconv_minmax *clamp);
void gconv_deconv_direct__avx512(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp);

/* ---- Reference: gather loops in double; d->clamp applied (activation already folded). */
void gconv_deconv2d_reference(const gconv_deconv_desc *d, const gconv_conv_geom *g, const float *x,
                              const float *weight, const float *bias, float *y, int num_threads);

#endif
