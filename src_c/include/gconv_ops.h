/*
 * gconv_cpu C core: the non-convolution operators of a network (pooling, channel
 * shuffle, element-wise, softmax, resize, channel copies). The graph executor
 * (src_c/graph) calls them step by step; the Cython binding exposes each one.
 *
 * Every tensor is float32, contiguous NCHW, described by gconv_tensor_shape.
 * Every function validates its arguments in 64-bit arithmetic before touching
 * memory, is reentrant (no global state, no allocation unless stated), and runs
 * on at most num_threads OpenMP threads (num_threads >= 1).
 */
#ifndef GCONV_OPS_H
#define GCONV_OPS_H

#include "gconv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t n, c, h, w; /* each >= 0 */
} gconv_tensor_shape;

/* n*c*h*w, or GCONV_EOVERFLOW / GCONV_EINVAL for a negative dim. */
gconv_status gconv_tensor_numel(const gconv_tensor_shape *s, int64_t *numel);

/* ---- Pooling (torch.nn.MaxPool2d / AvgPool2d semantics) ------------------- */
typedef enum { GCONV_POOL_MAX = 0, GCONV_POOL_AVG = 1 } gconv_pool_kind;

typedef struct {
    gconv_pool_kind kind;
    int64_t kernel_h, kernel_w, stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right; /* torch: symmetric; ONNX: any */
    int64_t dilation_h, dilation_w;                   /* max only; 1 for avg */
    int ceil_mode;         /* torch's rule: the last window must start inside the input or left padding */
    int count_include_pad; /* avg: divide by the window clipped to the padded input, else to the input */
} gconv_pool_desc;

gconv_status gconv_pool2d_output_size(const gconv_pool_desc *d, int64_t in_h, int64_t in_w,
                                      int64_t *out_h, int64_t *out_w);
/* y: (n, c, out_h, out_w). x and y must not overlap. */
gconv_status gconv_pool2d(const gconv_pool_desc *d, const gconv_tensor_shape *in, const float *x, float *y,
                          int num_threads);
/* y[n, c] = mean of x[n, c, :, :] (h*w >= 1); y holds n*c floats. */
gconv_status gconv_global_avgpool(const gconv_tensor_shape *in, const float *x, float *y, int num_threads);
/* torch's adaptive_avg_pool2d: output cell (i, j) averages rows [floor(i*H/out_h), ceil((i+1)*H/out_h))
 * and the same for columns. y: (n, c, out_h, out_w), out_h, out_w >= 1. x and y must not overlap. */
gconv_status gconv_adaptive_avgpool2d(const gconv_tensor_shape *in, int64_t out_h, int64_t out_w, const float *x,
                                      float *y, int num_threads);

/* ---- Channel shuffle (ShuffleNet): view (n, g, c/g, h, w), swap axes 1 and 2 ---- */
gconv_status gconv_channel_shuffle(const gconv_tensor_shape *in, int64_t groups, const float *x, float *y,
                                   int num_threads);

/* ---- Element-wise, unary: y = f(x); x == y (in place) is allowed ------------
 * alpha/beta: CLIP min/max, HARDSIGMOID alpha/beta (y = clamp(alpha*x + beta, 0, 1); torch's
 * Hardsigmoid is alpha 1/6, beta 0.5, computed then with torch's rounding), LEAKY_RELU slope in alpha,
 * ELU alpha (y = x > 0 ? x : alpha*(exp(x) - 1)). CLIP bounds must not be NaN.
 * per_channel (c values, or NULL): PRELU slopes; AFFINE: y = x*scale[c] + shift[c]
 * with scale = per_channel and shift = per_channel + c (2c values; inference BatchNorm).
 * NaN propagates as in torch (relu(NaN) = NaN, clamp(NaN) = NaN). */
typedef enum {
    GCONV_UNARY_IDENTITY = 0,
    GCONV_UNARY_RELU = 1,
    GCONV_UNARY_RELU6 = 2,
    GCONV_UNARY_CLIP = 3,
    GCONV_UNARY_HARDSWISH = 4,
    GCONV_UNARY_HARDSIGMOID = 5,
    GCONV_UNARY_SIGMOID = 6,
    GCONV_UNARY_PRELU = 7,
    GCONV_UNARY_AFFINE = 8,
    GCONV_UNARY_LEAKY_RELU = 9,
    GCONV_UNARY_TANH = 10,
    GCONV_UNARY_SILU = 11,
    GCONV_UNARY_ELU = 12,
    GCONV_UNARY_COUNT = 13
} gconv_unary_kind;

gconv_status gconv_unary(gconv_unary_kind kind, const gconv_tensor_shape *s, const float *x, float *y,
                         float alpha, float beta, const float *per_channel, int num_threads);

/* ---- Element-wise, binary with NumPy broadcasting over the 4 dims ------------
 * a and b each have dims equal to y's or 1. Then `activation` (GCONV_UNARY_IDENTITY,
 * RELU or RELU6) is applied: the fused residual add + ReLU of ResNet-style blocks.
 * y may alias a or b when that operand has y's shape (no other overlap). */
typedef enum { GCONV_BINARY_ADD = 0, GCONV_BINARY_SUB = 1, GCONV_BINARY_MUL = 2, GCONV_BINARY_DIV = 3,
               GCONV_BINARY_MAX = 4, GCONV_BINARY_MIN = 5, GCONV_BINARY_COUNT = 6 } gconv_binary_kind;

gconv_status gconv_binary(gconv_binary_kind kind, const gconv_tensor_shape *a_shape, const float *a,
                          const gconv_tensor_shape *b_shape, const float *b, const gconv_tensor_shape *y_shape,
                          float *y, gconv_unary_kind activation, int num_threads);

/* ---- Channel copy: the building block of Concat and Split ------------------
 * Copies channels [src_c0, src_c0 + count) of src (shape src_shape) into channels
 * [dst_c0, dst_c0 + count) of dst, which has dst_channels channels and the same
 * n, h, w. Regions must not overlap. */
gconv_status gconv_copy_channels(const gconv_tensor_shape *src_shape, const float *src, int64_t src_c0,
                                 int64_t count, int64_t dst_channels, float *dst, int64_t dst_c0,
                                 int num_threads);

/* ---- Softmax over the innermost `cols` of a (rows, cols) matrix ------------
 * Single-threaded (a classifier's row); x == y (in place) is allowed. */
gconv_status gconv_softmax(int64_t rows, int64_t cols, const float *x, float *y);

/* ---- Resize (ONNX Resize / torch interpolate) over h and w ------------------ */
typedef enum { GCONV_RESIZE_NEAREST = 0, GCONV_RESIZE_BILINEAR = 1 } gconv_resize_mode;
typedef enum {
    /* ONNX's coordinate_transformation_mode, in float as ONNX Runtime computes it (x / scale). */
    GCONV_COORD_HALF_PIXEL = 0,
    GCONV_COORD_ALIGN_CORNERS = 1,
    GCONV_COORD_ASYMMETRIC = 2,         /* ONNX export of torch 'nearest' */
    GCONV_COORD_PYTORCH_HALF_PIXEL = 3,
    GCONV_COORD_TF_HALF_PIXEL_FOR_NN = 4,
    /* torch's F.interpolate with torch's own float rounding: it multiplies by float(1/scale) (or
     * float(in)/out) where ONNX divides by the scale. The two disagree by a pixel at some nearest
     * ties and, for bilinear, by ~ulp(src) * |x1 - x0| in the weights, which grows with the size.
     * An axis whose length is unchanged is copied, as torch does (even with a scale != 1). */
    GCONV_COORD_TORCH_NEAREST = 5,        /* mode 'nearest': floor(dst * ratio); nearest_mode ignored */
    GCONV_COORD_TORCH_HALF_PIXEL = 6,     /* bilinear, align_corners=False */
    GCONV_COORD_TORCH_ALIGN_CORNERS = 7,  /* bilinear, align_corners=True */
    GCONV_COORD_COUNT = 8
} gconv_coord_mode;
typedef enum {
    GCONV_NEAREST_ROUND_PREFER_FLOOR = 0, GCONV_NEAREST_ROUND_PREFER_CEIL = 1,
    GCONV_NEAREST_FLOOR = 2,               /* ONNX export of torch 'nearest' */
    GCONV_NEAREST_CEIL = 3, GCONV_NEAREST_COUNT = 4
} gconv_nearest_mode;
typedef struct {
    gconv_resize_mode mode;
    gconv_coord_mode coord;
    gconv_nearest_mode nearest;
    double scale_h, scale_w; /* output/input; <= 0 means out/in (torch with size=, ONNX with sizes) */
} gconv_resize_desc;

/* y: (n, c, out_h, out_w), out_h and out_w >= 1 given by the caller. The ONNX modes follow ONNX
 * Runtime (an axis with scale 1 maps one to one, an unchanged shape is copied, and a nearest
 * coordinate within 1e-6 of a half is a tie); the TORCH modes follow torch. x and y must not
 * overlap. */
gconv_status gconv_resize(const gconv_resize_desc *d, const gconv_tensor_shape *in, const float *x,
                          int64_t out_h, int64_t out_w, float *y, int num_threads);

#ifdef __cplusplus
}
#endif
#endif /* GCONV_OPS_H */
