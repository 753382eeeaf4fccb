/*
 * gconv_cpu C core: the executor of a planned model. The Python planner (gconv_cpu/_program.py)
 * fuses the graph, assigns every tensor a place in a few buffers (the arena, the constants, the
 * caller's inputs and outputs) and hands the steps over as one array; running a model is then one
 * call with the GIL released, with no per-layer Python and no allocation.
 */
#ifndef GCONV_GRAPH_H
#define GCONV_GRAPH_H

#include "gconv.h"
#include "gconv_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GCONV_STEP_CONV = 0,           /* conv (plan), optionally + residual (x2) before the activation */
    GCONV_STEP_DECONV = 1,         /* transposed conv (deconv plan) */
    GCONV_STEP_POOL = 2,
    GCONV_STEP_GLOBAL_AVGPOOL = 3,
    GCONV_STEP_SHUFFLE = 4,
    GCONV_STEP_UNARY = 5,
    GCONV_STEP_BINARY = 6,
    GCONV_STEP_COPY_CHANNELS = 7,  /* x's channels [src_c0, +count) -> y's [dst_c0, +count) */
    GCONV_STEP_SOFTMAX = 8,        /* over c of (n, c, 1, 1) */
    GCONV_STEP_RESIZE = 9,
    GCONV_STEP_CONV_DW = 10,       /* a 1x1 conv (plan) and the depthwise conv after it (conv2) in one */
    GCONV_STEP_COUNT = 11
} gconv_step_kind;

/* Where a tensor lives: `offset` floats into buffers[buffer]. buffer < 0: no tensor. */
typedef struct {
    int32_t buffer;
    int64_t offset;
} gconv_tensor_ref;

typedef struct gconv_deconv_plan gconv_deconv_plan;

/* Runs a deconv plan (x: (n, c_in, h, w) -> y) with the program's workspace; set by the deconv
 * operator so that this executor does not depend on its internals. */
typedef gconv_status (*gconv_deconv_run_fn)(const gconv_deconv_plan *p, const gconv_tensor_shape *x_shape,
                                            const float *x, const gconv_tensor_shape *y_shape, float *y,
                                            void *workspace, size_t workspace_bytes, int num_threads);

typedef struct {
    gconv_step_kind kind;
    gconv_tensor_ref x, x2, y;
    gconv_tensor_shape x_shape, x2_shape, y_shape;
    const gconv_conv_plan *conv;
    const gconv_conv_plan *conv2; /* conv_dw: the depthwise conv */
    const gconv_deconv_plan *deconv;
    gconv_deconv_run_fn deconv_run;
    gconv_pool_desc pool;
    gconv_resize_desc resize;
    int32_t op;          /* gconv_unary_kind or gconv_binary_kind */
    int32_t activation;  /* binary: gconv_unary_kind applied after (IDENTITY, RELU, RELU6) */
    float alpha, beta;
    const float *per_channel; /* unary: PReLU slopes or AFFINE scale/shift; length per_channel_len */
    int64_t per_channel_len;
    int64_t groups;                               /* shuffle */
    int64_t src_c0, count, dst_channels, dst_c0; /* copy channels */
    int32_t threads; /* at most this many threads (0: the program's count); small steps lose more to
                        waking a team than they gain from it, so the planner gives them fewer */
} gconv_step;

/* Runs the steps in order. buffers[i] holds buffer_floats[i] floats. Every tensor reference is
 * checked against its buffer before anything runs; workspace is the largest any conv step needs. */
gconv_status gconv_program_run(const gconv_step *steps, size_t n_steps, float *const *buffers,
                               const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                               size_t workspace_bytes, int num_threads);

/* gconv_program_run that adds each step's wall time in nanoseconds to step_ns[i] (n_steps
 * entries; NULL times nothing): the per-step profile behind CompiledProgram.profile(). */
gconv_status gconv_program_run_timed(const gconv_step *steps, size_t n_steps, float *const *buffers,
                                     const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                     size_t workspace_bytes, int num_threads, int64_t *step_ns);

/* As gconv_conv_plan_run, adding `residual` (y's shape; NULL for none) after the bias and before the
 * activation: the fused residual block y = act(conv(x) + r). */
gconv_status gconv_conv_plan_run_residual(const gconv_conv_plan *p, const gconv_conv_geom *g, const float *x,
                                          const float *residual, float *y, void *workspace,
                                          size_t workspace_bytes, int num_threads);

/* A 1x1 conv (pw: direct GEMM, one group) and the depthwise conv (dw, no depth multiplier) that reads
 * its output, run as one: y = dw(pw(x)), with the same bits, without pw's output ever written.
 * g: x's batch and size (in_h, in_w) and dw's output size (out_h, out_w).
 * _supported: whether the fused run takes these plans at this size (pw's input at most 1 MB per batch
 * item, dw not a global conv); _fuses: whether it is also expected to be faster than two steps on
 * num_threads threads (the planner's rule). */
int gconv_conv_plan_pw_dw_supported(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g);
int gconv_conv_plan_pw_dw_fuses(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                int num_threads);
gconv_status gconv_conv_plan_pw_dw_workspace_size(const gconv_conv_plan *pw, const gconv_conv_plan *dw,
                                                  const gconv_conv_geom *g, int num_threads, size_t *bytes);
gconv_status gconv_conv_plan_run_pw_dw(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                       const float *x, float *y, void *workspace, size_t workspace_bytes,
                                       int num_threads);

#ifdef __cplusplus
}
#endif
#endif /* GCONV_GRAPH_H */
