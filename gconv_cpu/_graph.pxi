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
    gconv_status gconv_program_run(const g_step *steps, size_t n_steps, float *const *buffers,
                                   const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                   size_t workspace_bytes, int num_threads)
    gconv_status gconv_program_run_timed(const g_step *steps, size_t n_steps, float *const *buffers,
                                         const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                         size_t workspace_bytes, int num_threads, int64_t *step_ns)

STEP_KINDS = ("conv", "deconv", "pool", "global_avgpool", "shuffle", "unary", "binary", "copy_channels", "softmax",
              "resize")


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
        cdef void *wp = NULL
        cdef size_t wbytes = 0
        if workspace is not None:
            a = <cnp.ndarray>workspace
            if not cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_ITEMSIZE(a) != 1:
                raise TypeError("workspace must be a contiguous uint8 array")
            wp = cnp.PyArray_DATA(a)
            wbytes = <size_t>cnp.PyArray_NBYTES(a)
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
