# Binding for the transposed convolution (src_c/include/gconv_deconv.h): conversion,
# buffer checks and dispatch only. Included at the end of _ext.pyx, so it uses that
# file's declarations (gconv_minmax, gconv_conv_geom, gconv_status) and helpers
# (check, float_ptr).

cdef extern from "gconv_deconv.h" nogil:
    ctypedef struct gconv_deconv_desc:
        int64_t c_in, c_out, groups
        int64_t kernel_h, kernel_w
        int64_t stride_h, stride_w
        int64_t dilation_h, dilation_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        int64_t output_pad_h, output_pad_w
        gconv_minmax clamp
        int activation
    ctypedef int gconv_deconv_algo
    ctypedef struct gconv_deconv_plan:
        pass

    gconv_status gconv_deconv_desc_check(const gconv_deconv_desc *d)
    gconv_status gconv_deconv_output_size(const gconv_deconv_desc *d, gconv_conv_geom *g)
    gconv_status gconv_deconv_plan_create(const gconv_deconv_desc *d, const float *weight, const float *bias,
                                          gconv_isa isa, gconv_deconv_algo algo, gconv_deconv_plan **out)
    void gconv_deconv_plan_destroy(gconv_deconv_plan *p)
    gconv_deconv_algo gconv_deconv_plan_algo(const gconv_deconv_plan *p)
    gconv_isa gconv_deconv_plan_isa(const gconv_deconv_plan *p)
    const char *gconv_deconv_plan_kernel_name(const gconv_deconv_plan *p)
    size_t gconv_deconv_plan_packed_bytes(const gconv_deconv_plan *p)
    gconv_status gconv_deconv_plan_workspace_size(const gconv_deconv_plan *p, const gconv_conv_geom *g,
                                                  int num_threads, size_t *bytes)
    gconv_status gconv_deconv_plan_run(const gconv_deconv_plan *p, const gconv_conv_geom *g, const float *x,
                                       float *y, void *workspace, size_t workspace_bytes, int num_threads)

    ctypedef struct d_shape "gconv_tensor_shape":
        int64_t n, c, h, w
    gconv_status gconv_deconv_plan_run_shapes(const gconv_deconv_plan *p, const d_shape *x_shape, const float *x,
                                              const d_shape *y_shape, float *y, void *workspace,
                                              size_t workspace_bytes, int num_threads)
    ctypedef gconv_status (*d_run_fn)(const gconv_deconv_plan *, const d_shape *, const float *, const d_shape *,
                                      float *, void *, size_t, int)

cdef extern from "gconv_graph.h" nogil:
    # the two fields of the executor's step that a deconv plan fills in (see bind_step)
    ctypedef struct d_step "gconv_step":
        const gconv_deconv_plan *deconv
        d_run_fn deconv_run

DECONV_ALGO_NAMES = ("auto", "reference", "gemm", "direct")


cdef gconv_deconv_desc make_deconv_desc(tuple spec, int activation=0) except *:
    """spec: (c_in, c_out, groups, kh, kw, sh, sw, dh, dw, pad_top, pad_bottom, pad_left, pad_right,
    output_pad_h, output_pad_w, clamp_min, clamp_max)."""
    cdef gconv_deconv_desc d
    d.activation = activation
    (d.c_in, d.c_out, d.groups, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w,
     d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, d.output_pad_h, d.output_pad_w,
     d.clamp.min, d.clamp.max) = spec
    return d


def deconv_output_size(tuple spec, int64_t batch, int64_t in_h, int64_t in_w, int activation=0):
    """(out_h, out_w) as C computes it, with C's checks."""
    cdef gconv_deconv_desc d = make_deconv_desc(spec, activation)
    cdef gconv_conv_geom g
    g.batch, g.in_h, g.in_w = batch, in_h, in_w
    check(gconv_deconv_output_size(&d, &g))
    return g.out_h, g.out_w


cdef class DeconvPlan:
    """Packed weights plus the chosen algorithm and kernel for one transposed conv."""
    cdef gconv_deconv_plan *plan
    cdef gconv_deconv_desc desc
    cdef readonly tuple spec

    def __cinit__(self, tuple spec, cnp.ndarray weight, bias, int isa, int algo, int activation=0):
        self.plan = NULL
        self.spec = spec
        self.desc = make_deconv_desc(spec, activation)
        check(gconv_deconv_desc_check(&self.desc))
        cdef int64_t wcount = (self.desc.c_in * (self.desc.c_out // self.desc.groups) * self.desc.kernel_h
                               * self.desc.kernel_w)
        cdef const float *w = float_ptr(weight, "weight", wcount)
        cdef const float *b = NULL
        if bias is not None:
            b = float_ptr(bias, "bias", self.desc.c_out)
        cdef gconv_status st
        with nogil:
            st = gconv_deconv_plan_create(&self.desc, w, b, isa, algo, &self.plan)
        check(st)

    def __dealloc__(self):
        gconv_deconv_plan_destroy(self.plan)

    @property
    def algorithm(self):
        return DECONV_ALGO_NAMES[gconv_deconv_plan_algo(self.plan)]

    @property
    def isa(self):
        return ISA_NAMES[gconv_deconv_plan_isa(self.plan)]

    @property
    def kernel_name(self):
        return gconv_deconv_plan_kernel_name(self.plan).decode()

    @property
    def packed_bytes(self):
        return gconv_deconv_plan_packed_bytes(self.plan)

    def bind_step(self, uintptr_t step):
        """Points an executor step (a gconv_step *, from _graph.pxi's Program) at this plan. The
        Program keeps a reference to the plan for as long as the step lives."""
        cdef d_step *s = <d_step *>step
        s.deconv = self.plan
        s.deconv_run = gconv_deconv_plan_run_shapes

    def geometry(self, int64_t batch, int64_t in_h, int64_t in_w, int num_threads):
        """(out_h, out_w, workspace_bytes) for one input size and thread count."""
        cdef gconv_conv_geom g
        cdef size_t ws
        g.batch, g.in_h, g.in_w = batch, in_h, in_w
        check(gconv_deconv_output_size(&self.desc, &g))
        check(gconv_deconv_plan_workspace_size(self.plan, &g, num_threads, &ws))
        return g.out_h, g.out_w, ws

    def run(self, cnp.ndarray x, cnp.ndarray y, workspace, int num_threads):
        """y = conv_transpose(x). x (N, C_in, H, W), y (N, C_out, H_out, W_out): C-contiguous float32."""
        if cnp.PyArray_NDIM(x) != 4 or cnp.PyArray_NDIM(y) != 4:
            raise ValueError("x and out must be 4-D")
        cdef cnp.npy_intp *xs = cnp.PyArray_DIMS(x)
        cdef cnp.npy_intp *ys = cnp.PyArray_DIMS(y)
        if xs[1] != self.desc.c_in:
            raise ValueError(f"x: expected {self.desc.c_in} channels, got {xs[1]}")
        if ys[0] != xs[0] or ys[1] != self.desc.c_out:
            raise ValueError(f"out: expected shape ({xs[0]}, {self.desc.c_out}, H_out, W_out), "
                             f"got {(<object>y).shape}")
        cdef gconv_conv_geom g
        g.batch, g.in_h, g.in_w, g.out_h, g.out_w = xs[0], xs[2], xs[3], ys[2], ys[3]
        cdef const float *xp = float_ptr(x, "x", 0)
        cdef float *yp = float_ptr(y, "out", 0)
        cdef void *wp
        cdef size_t wbytes
        workspace_view(workspace, &wp, &wbytes)
        cdef gconv_status st
        with nogil:
            st = gconv_deconv_plan_run(self.plan, &g, xp, yp, wp, wbytes, num_threads)
        check(st)
        return y
