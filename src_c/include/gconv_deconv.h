/*
 * gconv_cpu C core: grouped transposed convolution (torch.nn.ConvTranspose2d).
 *
 * Mirrors the convolution operator of gconv.h: a desc without input geometry is
 * validated (every check in 64-bit arithmetic with overflow checks), a plan chooses
 * the algorithm and packs the weights once, and run uses caller-provided scratch and
 * an explicit thread count. Reentrant: no global state.
 *
 * Semantics (torch's): weight is (c_in, c_out/groups, kernel_h, kernel_w); input pixel
 * (iy, ix) of channel ci in group g adds x * weight[ci, co, ky, kx] to output pixel
 *   oy = iy*stride_h - pad_top + ky*dilation_h,  ox = ix*stride_w - pad_left + kx*dilation_w
 * of channel g*c_out/groups + co, when that pixel lies inside the output, whose size is
 *   out = (in - 1)*stride - pad_a - pad_b + dilation*(kernel - 1) + output_pad + 1.
 * output_pad must be smaller than the stride or the dilation (per axis), as in torch.
 */
#ifndef GCONV_DECONV_H
#define GCONV_DECONV_H

#include "gconv.h"
#include "gconv_ops.h" /* gconv_tensor_shape */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t c_in, c_out, groups;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t dilation_h, dilation_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int64_t output_pad_h, output_pad_w;
    gconv_minmax clamp;
    gconv_activation activation; /* NONE, RELU or RELU6 (folded into the clamp) */
} gconv_deconv_desc;

typedef enum {
    GCONV_DECONV_AUTO = 0,
    GCONV_DECONV_REFERENCE = 1, /* plain gather loops accumulating in double: the oracle */
    GCONV_DECONV_GEMM = 2,      /* per group: packed-weight GEMM on the input in place, then col2im */
    GCONV_DECONV_DIRECT = 3,    /* gather over the taps that hit, by stride phase (depthwise, few channels per group) */
    GCONV_DECONV_ALGO_COUNT = 4
} gconv_deconv_algo;

typedef struct gconv_deconv_plan gconv_deconv_plan;

/* Validates desc (every check the kernels depend on). */
gconv_status gconv_deconv_desc_check(const gconv_deconv_desc *d);

/* Validates g (batch, in_h, in_w) against d and fills g->out_h, g->out_w. */
gconv_status gconv_deconv_output_size(const gconv_deconv_desc *d, gconv_conv_geom *g);

/* Chooses an algorithm (or honours algo) and packs weight for isa.
 * weight: (c_in, c_out/groups, kernel_h, kernel_w) contiguous; bias: (c_out) or NULL. */
gconv_status gconv_deconv_plan_create(const gconv_deconv_desc *d, const float *weight, const float *bias,
                                      gconv_isa isa, gconv_deconv_algo algo, gconv_deconv_plan **out);
void gconv_deconv_plan_destroy(gconv_deconv_plan *p);
gconv_deconv_algo gconv_deconv_plan_algo(const gconv_deconv_plan *p);
gconv_isa gconv_deconv_plan_isa(const gconv_deconv_plan *p);
/* The kernel the plan runs ("reference" for the reference). */
const char *gconv_deconv_plan_kernel_name(const gconv_deconv_plan *p);
size_t gconv_deconv_plan_packed_bytes(const gconv_deconv_plan *p);

/* Bytes of scratch that run needs for this geometry and thread count. */
gconv_status gconv_deconv_plan_workspace_size(const gconv_deconv_plan *p, const gconv_conv_geom *g,
                                              int num_threads, size_t *bytes);

/* y = conv_transpose(x). x: (batch, c_in, in_h, in_w), y: (batch, c_out, out_h, out_w), contiguous,
 * not overlapping. g->out_h/out_w must be what gconv_deconv_output_size gives. workspace: at least
 * workspace_size bytes, 64-byte aligned (NULL when that is 0). */
gconv_status gconv_deconv_plan_run(const gconv_deconv_plan *p, const gconv_conv_geom *g, const float *x,
                                   float *y, void *workspace, size_t workspace_bytes, int num_threads);

/* gconv_deconv_plan_run on NCHW shapes: the executor's step function (gconv_graph.h's
 * gconv_deconv_run_fn). Checks x_shape's channels and that y_shape is the output's shape. */
gconv_status gconv_deconv_plan_run_shapes(const gconv_deconv_plan *p, const gconv_tensor_shape *x_shape,
                                          const float *x, const gconv_tensor_shape *y_shape, float *y,
                                          void *workspace, size_t workspace_bytes, int num_threads);

#ifdef __cplusplus
}
#endif
#endif /* GCONV_DECONV_H */
