# Binding for the non-convolution operators (src_c/include/gconv_ops.h): converts NumPy arrays,
# checks what C cannot see (dtypes, contiguity, buffer shapes), releases the GIL and dispatches.
# Argument checking with torch's rules lives in gconv_cpu/_functional_ops.py.

cdef extern from "gconv_ops.h" nogil:
    ctypedef struct gconv_tensor_shape:
        int64_t n, c, h, w
    ctypedef struct gconv_pool_desc:
        int kind
        int64_t kernel_h, kernel_w, stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t dilation_h, dilation_w
        int ceil_mode
        int count_include_pad
    ctypedef struct gconv_resize_desc:
        int mode
        int coord
        int nearest
        double scale_h, scale_w

    gconv_status gconv_tensor_numel(const gconv_tensor_shape *s, int64_t *numel)
    gconv_status gconv_pool2d_output_size(const gconv_pool_desc *d, int64_t in_h, int64_t in_w,
                                          int64_t *out_h, int64_t *out_w)
    gconv_status gconv_pool2d(const gconv_pool_desc *d, const gconv_tensor_shape *shape, const float *x, float *y,
                              int num_threads)
    gconv_status gconv_global_avgpool(const gconv_tensor_shape *shape, const float *x, float *y, int num_threads)
    gconv_status gconv_adaptive_avgpool2d(const gconv_tensor_shape *shape, int64_t out_h, int64_t out_w,
                                          const float *x, float *y, int num_threads)
    gconv_status gconv_channel_shuffle(const gconv_tensor_shape *shape, int64_t groups, const float *x, float *y,
                                       int num_threads)
    gconv_status gconv_unary(int kind, const gconv_tensor_shape *s, const float *x, float *y, float alpha,
                             float beta, const float *per_channel, int num_threads)
    gconv_status gconv_binary(int kind, const gconv_tensor_shape *a_shape, const float *a,
                              const gconv_tensor_shape *b_shape, const float *b, const gconv_tensor_shape *y_shape,
                              float *y, int activation, int num_threads)
    gconv_status gconv_copy_channels(const gconv_tensor_shape *src_shape, const float *src, int64_t src_c0,
                                     int64_t count, int64_t dst_channels, float *dst, int64_t dst_c0,
                                     int num_threads)
    gconv_status gconv_softmax(int64_t rows, int64_t cols, const float *x, float *y)
    gconv_status gconv_resize(const gconv_resize_desc *d, const gconv_tensor_shape *shape, const float *x,
                              int64_t out_h, int64_t out_w, float *y, int num_threads)

# Names in the order of the C enums (gconv_ops.h).
POOL_KINDS = ("max", "avg")
UNARY_KINDS = ("identity", "relu", "relu6", "clip", "hardswish", "hardsigmoid", "sigmoid", "prelu", "affine",
               "leaky_relu", "tanh", "silu", "elu")
BINARY_KINDS = ("add", "sub", "mul", "div", "max", "min")
RESIZE_MODES = ("nearest", "bilinear")
COORD_MODES = ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel", "tf_half_pixel_for_nn",
               "torch_nearest", "torch_half_pixel", "torch_align_corners")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


cdef gconv_tensor_shape shape4(cnp.ndarray a, str name) except *:
    if cnp.PyArray_NDIM(a) != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {(<object>a).shape}")
    cdef cnp.npy_intp *d = cnp.PyArray_DIMS(a)
    cdef gconv_tensor_shape s
    s.n, s.c, s.h, s.w = d[0], d[1], d[2], d[3]
    return s


cdef int expect_shape(cnp.ndarray a, str name, tuple shape) except -1:
    if (<object>a).shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {(<object>a).shape}")
    return 0


cdef int enum_index(tuple names, object value, str name) except -1:
    if isinstance(value, str):
        if value not in names:
            raise ValueError(f"{name} must be one of {', '.join(names)}, got {value!r}")
        return names.index(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(names):
        raise ValueError(f"{name} must be one of {', '.join(names)} (or its index), got {value!r}")
    return value


cdef gconv_pool_desc make_pool_desc(tuple spec) except *:
    """spec: (kind, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right,
    dilation_h, dilation_w, ceil_mode, count_include_pad); kind 'max' | 'avg' (or 0 | 1)."""
    if len(spec) != 13:
        raise ValueError(f"pool spec must have 13 values, got {len(spec)}")
    cdef gconv_pool_desc d
    d.kind = enum_index(POOL_KINDS, spec[0], "kind")
    (d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right,
     d.dilation_h, d.dilation_w) = spec[1:11]
    d.ceil_mode = 1 if spec[11] else 0
    d.count_include_pad = 1 if spec[12] else 0
    return d


def pool2d_output_size(tuple spec, int64_t in_h, int64_t in_w):
    """(out_h, out_w) of a pooling (spec: see make_pool_desc) as C computes it, with C's checks."""
    cdef gconv_pool_desc d = make_pool_desc(spec)
    cdef int64_t oh, ow
    check(gconv_pool2d_output_size(&d, in_h, in_w, &oh, &ow))
    return oh, ow


def pool2d(tuple spec, cnp.ndarray x, cnp.ndarray y, int num_threads):
    """y = pool(x); x (N, C, H, W), y (N, C, out_h, out_w)."""
    cdef gconv_pool_desc d = make_pool_desc(spec)
    cdef gconv_tensor_shape s = shape4(x, "x")
    cdef int64_t oh, ow
    check(gconv_pool2d_output_size(&d, s.h, s.w, &oh, &ow))
    expect_shape(y, "out", (s.n, s.c, oh, ow))
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_pool2d(&d, &s, xp, yp, num_threads)
    check(st)
    return y


def global_avgpool(cnp.ndarray x, cnp.ndarray y, int num_threads):
    """y[n, c] = mean of x[n, c]; y holds N*C floats (any shape)."""
    cdef gconv_tensor_shape s = shape4(x, "x")
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    if cnp.PyArray_SIZE(y) != s.n * s.c:
        raise ValueError(f"out: expected {s.n * s.c} values (N*C), got {cnp.PyArray_SIZE(y)}")
    cdef gconv_status st
    with nogil:
        st = gconv_global_avgpool(&s, xp, yp, num_threads)
    check(st)
    return y


def adaptive_avgpool2d(cnp.ndarray x, cnp.ndarray y, int num_threads):
    """torch's adaptive average pooling to y's (out_h, out_w)."""
    cdef gconv_tensor_shape s = shape4(x, "x")
    cdef gconv_tensor_shape o = shape4(y, "out")
    if o.n != s.n or o.c != s.c:
        raise ValueError(f"out: expected shape ({s.n}, {s.c}, out_h, out_w), got {(<object>y).shape}")
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_adaptive_avgpool2d(&s, o.h, o.w, xp, yp, num_threads)
    check(st)
    return y


def channel_shuffle(cnp.ndarray x, int64_t groups, cnp.ndarray y, int num_threads):
    cdef gconv_tensor_shape s = shape4(x, "x")
    expect_shape(y, "out", (<object>x).shape)
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_channel_shuffle(&s, groups, xp, yp, num_threads)
    check(st)
    return y


def unary(kind, cnp.ndarray x, cnp.ndarray y, float alpha=0.0, float beta=0.0, per_channel=None,
          int num_threads=1):
    """y = f(x) element-wise (y may be x). per_channel: C slopes (prelu) or 2C values (affine: scales
    then shifts)."""
    cdef int k = enum_index(UNARY_KINDS, kind, "kind")
    cdef gconv_tensor_shape s = shape4(x, "x")
    expect_shape(y, "out", (<object>x).shape)
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef const float *pc = NULL
    cdef int64_t need = 2 * s.c if k == UNARY_KINDS.index("affine") else s.c
    if per_channel is not None:
        if type(per_channel) is not np.ndarray:
            raise TypeError(f"per_channel must be a numpy.ndarray, got {type(per_channel).__name__}")
        if per_channel.size != need:
            raise ValueError(f"per_channel: expected {need} values, got {per_channel.size}")
        pc = float_ptr(<cnp.ndarray>per_channel, "per_channel", need)
    cdef gconv_status st
    with nogil:
        st = gconv_unary(k, &s, xp, yp, alpha, beta, pc, num_threads)
    check(st)
    return y


def binary(kind, cnp.ndarray a, cnp.ndarray b, cnp.ndarray y, activation=None, int num_threads=1):
    """y = a (op) b with NumPy broadcasting over 4-D operands, then activation None | 'relu' | 'relu6'.
    y may be a or b when that operand has y's shape."""
    cdef int k = enum_index(BINARY_KINDS, kind, "kind")
    cdef int act = enum_index(("identity", "relu", "relu6"), "identity" if activation is None else activation,
                              "activation")
    cdef gconv_tensor_shape sa = shape4(a, "a")
    cdef gconv_tensor_shape sb = shape4(b, "b")
    cdef gconv_tensor_shape sy = shape4(y, "out")
    cdef const float *ap = float_ptr(a, "a", 0)
    cdef const float *bp = float_ptr(b, "b", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_binary(k, &sa, ap, &sb, bp, &sy, yp, act, num_threads)
    check(st)
    return y


def copy_channels(cnp.ndarray src, int64_t src_c0, int64_t count, cnp.ndarray dst, int64_t dst_c0,
                  int num_threads=1):
    """dst[:, dst_c0:dst_c0+count] = src[:, src_c0:src_c0+count] (4-D, same N, H, W)."""
    cdef gconv_tensor_shape s = shape4(src, "src")
    cdef gconv_tensor_shape d = shape4(dst, "dst")
    if d.n != s.n or d.h != s.h or d.w != s.w:
        raise ValueError(f"dst: expected shape ({s.n}, C, {s.h}, {s.w}), got {(<object>dst).shape}")
    cdef const float *sp = float_ptr(src, "src", 0)
    cdef float *dp = float_ptr(dst, "dst", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_copy_channels(&s, sp, src_c0, count, d.c, dp, dst_c0, num_threads)
    check(st)
    return dst


def softmax_rows(cnp.ndarray x, cnp.ndarray y):
    """Softmax over the last axis of x (any ndim >= 1); y has x's shape (y may be x)."""
    if cnp.PyArray_NDIM(x) < 1:
        raise ValueError("x must have at least one dimension")
    expect_shape(y, "out", (<object>x).shape)
    cdef int64_t cols = cnp.PyArray_DIMS(x)[cnp.PyArray_NDIM(x) - 1]
    cdef int64_t total = cnp.PyArray_SIZE(x)
    cdef int64_t rows = total // cols if cols > 0 else 0
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_softmax(rows, cols, xp, yp)
    check(st)
    return y


def resize(mode, coord, nearest, double scale_h, double scale_w, cnp.ndarray x, cnp.ndarray y,
           int num_threads=1):
    """y = resize(x) to y's (out_h, out_w). scale_h/scale_w: output/input, <= 0 for out/in.
    mode, coord, nearest: names (RESIZE_MODES, COORD_MODES, NEAREST_MODES) or their indices."""
    cdef gconv_resize_desc d
    d.mode = enum_index(RESIZE_MODES, mode, "mode")
    d.coord = enum_index(COORD_MODES, coord, "coordinate_transformation_mode")
    d.nearest = enum_index(NEAREST_MODES, nearest, "nearest_mode")
    d.scale_h, d.scale_w = scale_h, scale_w
    cdef gconv_tensor_shape s = shape4(x, "x")
    cdef gconv_tensor_shape o = shape4(y, "out")
    if o.n != s.n or o.c != s.c:
        raise ValueError(f"out: expected shape ({s.n}, {s.c}, out_h, out_w), got {(<object>y).shape}")
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "out", 0)
    cdef gconv_status st
    with nogil:
        st = gconv_resize(&d, &s, xp, o.h, o.w, yp, num_threads)
    check(st)
    return y
