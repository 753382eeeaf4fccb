# Binding for the planned-model executor (src_c/graph): converts the planner's step list into C
# structs once, then runs the whole program per call with the GIL released.
# Types shared with _ops.pxi are declared under private Cython names (the C names in quotes).

from libc.stdlib cimport calloc, free

cdef extern from "gconv_graph.h" nogil:
    ctypedef struct g_shape "gconv_tensor_shape":
        int64_t n, c, h, w
    ctypedef struct g_pool_desc "gconv_pool_desc":
        int kind
        int64_t kernel_h, kernel_w, stride_h, stride_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t dilation_h, dilation_w
        int ceil_mode, count_include_pad
    ctypedef struct g_resize_desc "gconv_resize_desc":
        int mode, coord, nearest
        double scale_h, scale_w
    ctypedef struct g_tensor_ref "gconv_tensor_ref":
        int buffer
        int64_t offset
    ctypedef struct g_deconv_plan "gconv_deconv_plan":
        pass
    ctypedef gconv_status (*g_deconv_run_fn "gconv_deconv_run_fn")(const g_deconv_plan *, const g_shape *,
                                                                    const float *, const g_shape *, float *,
                                                                    void *, size_t, int)
    ctypedef struct g_step "gconv_step":
        int kind
        g_tensor_ref x, x2, y
        g_shape x_shape, x2_shape, y_shape
        const gconv_conv_plan *conv
        const gconv_conv_plan *conv2
        const g_deconv_plan *deconv
        g_deconv_run_fn deconv_run
        g_pool_desc pool
        g_resize_desc resize
        int op, activation
        float alpha, beta
        const float *per_channel
        int64_t per_channel_len
        int64_t groups, src_c0, count, dst_channels, dst_c0
        int threads
    int gconv_conv_plan_pw_dw_fuses(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                    int num_threads)
    gconv_status gconv_conv_plan_pw_dw_workspace_size(const gconv_conv_plan *pw, const gconv_conv_plan *dw,
                                                      const gconv_conv_geom *g, int num_threads, size_t *bytes)
    gconv_status gconv_conv_plan_run_pw_dw(const gconv_conv_plan *pw, const gconv_conv_plan *dw,
                                           const gconv_conv_geom *g, const float *x, float *y, void *workspace,
                                           size_t workspace_bytes, int num_threads)
    gconv_status gconv_program_run(const g_step *steps, size_t n_steps, float *const *buffers,
                                   const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                   size_t workspace_bytes, int num_threads)
    gconv_status gconv_program_run_timed(const g_step *steps, size_t n_steps, float *const *buffers,
                                         const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                         size_t workspace_bytes, int num_threads, int64_t *step_ns)

STEP_KINDS = ("conv", "deconv", "pool", "global_avgpool", "shuffle", "unary", "binary", "copy_channels", "softmax",
              "resize", "conv_dw")


cdef g_shape to_shape(tuple s):
    cdef g_shape r
    r.n, r.c, r.h, r.w = s
    return r


cdef g_tensor_ref to_ref(object ref):
    cdef g_tensor_ref r
    if ref is None:
        r.buffer, r.offset = -1, 0
    else:
        r.buffer, r.offset = ref
    return r


cdef class Program:
    """A planned model's steps as C structs. Holds references to every plan and array they point to."""
    cdef g_step *steps
    cdef size_t n_steps
    cdef list keep
    cdef readonly int n_buffers

    def __cinit__(self, list steps, int n_buffers):
        self.steps = NULL
        self.keep = []
        self.n_buffers = n_buffers
        self.n_steps = len(steps)
        self.steps = <g_step *>calloc(max(1, self.n_steps), sizeof(g_step))
        if self.steps == NULL:
            raise MemoryError("out of memory for the program")
        cdef size_t i
        cdef g_step *s
        cdef cnp.ndarray arr
        for i in range(self.n_steps):
            d = steps[i]
            s = &self.steps[i]
            s.kind = STEP_KINDS.index(d["kind"])
            s.x, s.x2, s.y = to_ref(d["x"]), to_ref(d.get("x2")), to_ref(d["y"])
            s.x_shape, s.y_shape = to_shape(d["x_shape"]), to_shape(d["y_shape"])
            s.x2_shape = to_shape(d.get("x2_shape", (0, 0, 0, 0)))
            plan = d.get("plan")
            if plan is not None:
                self.keep.append(plan)
                if isinstance(plan, ConvPlan):
                    s.conv = (<ConvPlan>plan).plan
                else:
                    plan.bind_step(<uintptr_t>s)  # a deconv plan fills in its own pointers
            plan2 = d.get("plan2")
            if plan2 is not None:
                self.keep.append(plan2)
                s.conv2 = (<ConvPlan?>plan2).plan
            if "pool" in d:
                (s.pool.kind, s.pool.kernel_h, s.pool.kernel_w, s.pool.stride_h, s.pool.stride_w, s.pool.pad_top,
                 s.pool.pad_bottom, s.pool.pad_left, s.pool.pad_right, s.pool.dilation_h, s.pool.dilation_w,
                 s.pool.ceil_mode, s.pool.count_include_pad) = d["pool"]
            if "resize" in d:
                s.resize.mode, s.resize.coord, s.resize.nearest, s.resize.scale_h, s.resize.scale_w = d["resize"]
            s.op = d.get("op", 0)
            s.activation = d.get("activation", 0)
            s.alpha, s.beta = d.get("alpha", 0.0), d.get("beta", 0.0)
            if d.get("per_channel") is not None:
                arr = d["per_channel"]
                s.per_channel = float_ptr(arr, "per_channel", 0)
                s.per_channel_len = cnp.PyArray_SIZE(arr)
                self.keep.append(arr)
            s.groups = d.get("groups", 0)
            s.src_c0, s.count, s.dst_channels, s.dst_c0 = d.get("copy", (0, 0, 0, 0))
            s.threads = d.get("threads", 0)

    def __dealloc__(self):
        free(self.steps)

    def run(self, list buffers, workspace, int num_threads, step_ns=None):
        """Runs every step. buffers: C-contiguous float32 arrays (None for an empty one), in the
        planner's order; workspace: a 64-byte aligned uint8 array or None; step_ns: None, or an
        int64 array of one entry per step to which each step's wall time (ns) is added."""
        if len(buffers) != self.n_buffers:
            raise ValueError(f"expected {self.n_buffers} buffers, got {len(buffers)}")
        cdef float *ptrs[64]
        cdef int64_t sizes[64]
        if self.n_buffers > 64:
            raise ValueError("too many buffers")
        cdef int i
        cdef cnp.ndarray a
        for i in range(self.n_buffers):
            b = buffers[i]
            if b is None:
                ptrs[i], sizes[i] = NULL, 0
            else:
                a = <cnp.ndarray>b
                ptrs[i] = float_ptr(a, "buffer", 0)
                sizes[i] = cnp.PyArray_SIZE(a)
        cdef void *wp
        cdef size_t wbytes
        workspace_view(workspace, &wp, &wbytes)
        cdef int64_t *times = NULL
        if step_ns is not None:
            if type(step_ns) is not np.ndarray:
                raise TypeError("step_ns must be a numpy int64 array")
            a = <cnp.ndarray>step_ns
            if (a.dtype != np.int64 or not cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_SIZE(a) != <cnp.npy_intp>self.n_steps
                    or not cnp.PyArray_ISWRITEABLE(a)):
                raise ValueError(f"step_ns: expected a writable contiguous int64 array of {self.n_steps} entries")
            times = <int64_t *>cnp.PyArray_DATA(a)
        cdef gconv_status st
        with nogil:
            st = gconv_program_run_timed(self.steps, self.n_steps, ptrs, sizes, self.n_buffers, wp, wbytes,
                                         num_threads, times)
        check(st)


def pw_dw_fusion(ConvPlan pw, ConvPlan dw, int64_t batch, int64_t in_h, int64_t in_w, int num_threads):
    """The workspace bytes of a conv_dw step running 1x1 plan pw and depthwise plan dw on num_threads
    threads for this input size, or None where the core would not fuse them (unsupported, or not
    expected to beat two steps)."""
    cdef gconv_conv_geom g
    g.batch, g.in_h, g.in_w = batch, in_h, in_w
    if not gconv_conv_plan_pw_dw_fuses(pw.plan, dw.plan, &g, num_threads):
        return None
    return pw_dw_workspace_size(pw, dw, batch, in_h, in_w, num_threads)


def pw_dw_workspace_size(ConvPlan pw, ConvPlan dw, int64_t batch, int64_t in_h, int64_t in_w, int num_threads):
    """The workspace bytes run_pw_dw needs; raises where the core does not run these plans fused."""
    cdef gconv_conv_geom g
    cdef size_t need
    g.batch, g.in_h, g.in_w = batch, in_h, in_w
    check(gconv_conv_plan_pw_dw_workspace_size(pw.plan, dw.plan, &g, num_threads, &need))
    return need


def run_pw_dw(ConvPlan pw, ConvPlan dw, cnp.ndarray x, cnp.ndarray y, workspace, int num_threads):
    """y = dw(pw(x)) in one fused run wherever the core supports it (also where the planner would not
    fuse: the tests compare it with two steps). x (N, C_in, H, W), y (N, C, H_out, W_out): C-contiguous
    float32; workspace: a 64-byte aligned uint8 array of at least the size the core asks for."""
    if cnp.PyArray_NDIM(x) != 4 or cnp.PyArray_NDIM(y) != 4:
        raise ValueError("x and y must be 4-D")
    cdef cnp.npy_intp *xs = cnp.PyArray_DIMS(x)
    cdef cnp.npy_intp *ys = cnp.PyArray_DIMS(y)
    if xs[1] != pw.desc.c_in:
        raise ValueError(f"x: expected {pw.desc.c_in} channels, got {xs[1]}")
    if ys[0] != xs[0] or ys[1] != dw.desc.c_out:
        raise ValueError(f"y: expected shape ({xs[0]}, {dw.desc.c_out}, H_out, W_out), got {(<object>y).shape}")
    cdef gconv_conv_geom g
    g.batch, g.in_h, g.in_w, g.out_h, g.out_w = xs[0], xs[2], xs[3], ys[2], ys[3]
    cdef const float *xp = float_ptr(x, "x", 0)
    cdef float *yp = float_ptr(y, "y", 0)
    cdef void *wp
    cdef size_t wbytes
    workspace_view(workspace, &wp, &wbytes)
    cdef gconv_status st
    with nogil:
        st = gconv_conv_plan_run_pw_dw(pw.plan, dw.plan, &g, xp, yp, wp, wbytes, num_threads)
    check(st)
    return y
