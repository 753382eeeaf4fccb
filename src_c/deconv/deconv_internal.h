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
 * `cin` input planes (in + ci*in_plane). w: the bias, then cin*kernel_h*kernel_w
 * taps (ci, ky, kx) of this output channel. Every output pixel is written:
 * clamp(bias + sum of the taps that hit it). The kernel copies the input rows a band
 * of `band` output rows needs into `scratch` (zero-padded, so that every tap covers
 * whole phase runs and reads past a run's end stay inside the copy); see
 * gconv_deconv_direct_layout for the sizes. */
typedef struct {
    gconv_dw_geom g;        /* in/out sizes, kernel, stride, dilation, pad_top, pad_left */
    int64_t cin, in_plane;  /* input planes per output channel, floats between them */
    int64_t band;           /* output rows per band */
    int64_t rows;           /* input rows a band can need (per input plane) */
    int64_t ix0, row_stride; /* a padded row holds input columns ix0 .. ix0 + row_stride - 1 */
    int64_t my_max, mx_max; /* largest row / column offset of a tap, in input pixels */
    size_t scratch_floats;  /* cin * rows * row_stride */
} gconv_deconv_direct_geom;

/* Strides above this (either axis) take a per-pixel loop without scratch. */
#define GCONV_DECONV_MAX_PHASES 64
/* Slack after the last needed column of a padded row: one vector of the widest ISA. */
#define GCONV_DECONV_SLACK 16

/* Fills the band layout for g/cin, with bands of at most ~budget_floats of scratch
 * (at least one output row). Returns false when a size overflows. */
bool gconv_deconv_direct_layout(const gconv_dw_geom *g, int64_t cin, int64_t in_plane, int64_t budget_floats,
                                gconv_deconv_direct_geom *dg);

typedef void (*gconv_deconv_direct_fn)(const gconv_deconv_direct_geom *dg, const float *in, const float *w,
                                       float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp,
                                       float *scratch);

void gconv_deconv_direct__scalar(const gconv_deconv_direct_geom *dg, const float *in, const float *w, float *out,
                                 int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp, float *scratch);
void gconv_deconv_direct__avx2(const gconv_deconv_direct_geom *dg, const float *in, const float *w, float *out,
                               int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp, float *scratch);

/* ---- col2im of the GEMM path (per ISA) ---------------------------------------
 * add: adds C (rows: nco output channels x kernel_h*kernel_w taps, ldc apart; columns: the
 * input pixels [p0, p0 + nt)) into the nco output planes y, each row shifted by its tap;
 * g: the transposed conv's geometry. fill: y[0..n) = v. clamp: y[0..n) = clamp(y). */
typedef struct {
    void (*add)(const gconv_dw_geom *g, const float *c, int64_t ldc, int64_t p0, int64_t nt, int64_t nco, float *y);
    void (*fill)(float *y, int64_t n, float v);
    void (*clamp)(float *y, int64_t n, const gconv_minmax *clamp);
} gconv_deconv_col2im_kernels;

extern const gconv_deconv_col2im_kernels gconv_deconv_col2im__scalar;
extern const gconv_deconv_col2im_kernels gconv_deconv_col2im__avx2;
extern const gconv_deconv_col2im_kernels gconv_deconv_col2im__avx512;

/* ---- Reference: gather loops in double; d->clamp applied (activation already folded). */
void gconv_deconv2d_reference(const gconv_deconv_desc *d, const gconv_conv_geom *g, const float *x,
                              const float *weight, const float *bias, float *y, int num_threads);

#endif
