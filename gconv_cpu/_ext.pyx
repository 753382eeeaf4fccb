# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding to the C core: converts NumPy arrays, checks what C cannot
see (buffer lengths, dtypes, contiguity), releases the GIL and dispatches."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uintptr_t

cnp.import_array()

cdef extern from "gconv.h" nogil:
    ctypedef enum gconv_status:
        GCONV_OK
        GCONV_EINVAL
        GCONV_EOVERFLOW
        GCONV_ENOMEM
        GCONV_EUNSUPPORTED
    ctypedef int gconv_isa
    ctypedef int gconv_algo
    ctypedef int gconv_kernel_kind
    ctypedef struct gconv_minmax:
        float min
        float max
    ctypedef struct gconv_conv_desc:
        int64_t c_in, c_out, groups
        int64_t kernel_h, kernel_w
        int64_t stride_h, stride_w
        int64_t dilation_h, dilation_w
        int64_t pad_top, pad_bottom, pad_left, pad_right
        gconv_minmax clamp
        int activation
    ctypedef struct gconv_conv_geom:
        int64_t batch, in_h, in_w, out_h, out_w
    ctypedef struct gconv_dw_geom:
        int64_t in_h, in_w, out_h, out_w
        int64_t kernel_h, kernel_w
        int64_t stride_h, stride_w
        int64_t dilation_h, dilation_w
        int64_t pad_top, pad_left
    ctypedef void (*gconv_gemm_ukernel_fn)(size_t, size_t, size_t, const float *, const float *, size_t,
                                           float *, size_t, const gconv_minmax *)
    ctypedef void (*gconv_dw_ukernel_fn)(const gconv_dw_geom *, const float *, const float *, float *,
                                         int64_t, int64_t, const gconv_minmax *)
    ctypedef void (*gconv_gconv_ukernel_fn)(const gconv_dw_geom *, size_t, size_t, const float *, const float *,
                                            float *, int64_t, int64_t, const gconv_minmax *)
    ctypedef void (*gconv_vact_ukernel_fn)(size_t, float *, float)
    ctypedef void (*gconv_gdc_ukernel_fn)(size_t, size_t, const float *, size_t, const float *, float *,
                                          const gconv_minmax *)
    ctypedef void (*gconv_dw_multi_ukernel_fn)(const gconv_dw_geom *, size_t, const float *, size_t, const float *,
                                               float *, int64_t, int64_t, const gconv_minmax *)
    ctypedef struct gconv_kernel_info:
        const char *name
        gconv_kernel_kind kind
        gconv_isa isa
        int mr, nr, nr_edge
        int kernel_h, kernel_w, stride
        gconv_gemm_ukernel_fn gemm
        gconv_dw_ukernel_fn dw
        gconv_gconv_ukernel_fn gconv
        gconv_vact_ukernel_fn vact
        int activation
        int dilation
        gconv_gdc_ukernel_fn gdc
        gconv_dw_multi_ukernel_fn dw_multi
        int prefetches_next
    ctypedef struct gconv_conv_plan:
        pass

    const gconv_kernel_info *gconv_kernel_table(size_t *count)
    unsigned gconv_cpu_isa_mask()
    const char *gconv_isa_name(gconv_isa isa)
    const char *gconv_last_error()
    gconv_status gconv_conv_desc_check(const gconv_conv_desc *d)
    gconv_status gconv_conv_output_size(const gconv_conv_desc *d, gconv_conv_geom *g)
    gconv_status gconv_conv_plan_create(const gconv_conv_desc *d, const float *weight, const float *bias,
                                        const float *prelu_slope, gconv_isa isa, gconv_algo algo,
                                        gconv_conv_plan **out)
    void gconv_conv_plan_destroy(gconv_conv_plan *p)
    gconv_algo gconv_conv_plan_algo(const gconv_conv_plan *p)
    gconv_isa gconv_conv_plan_isa(const gconv_conv_plan *p)
    const char *gconv_conv_plan_kernel_name(const gconv_conv_plan *p)
    const char *gconv_conv_plan_global_kernel_name(const gconv_conv_plan *p)
    const char *gconv_conv_plan_kernel_name_for(const gconv_conv_plan *p, const gconv_conv_geom *g)
    size_t gconv_conv_plan_packed_bytes(const gconv_conv_plan *p)
    gconv_status gconv_conv_plan_workspace_size(const gconv_conv_plan *p, const gconv_conv_geom *g,
                                                int num_threads, size_t *bytes)
    gconv_status gconv_conv_plan_run(const gconv_conv_plan *p, const gconv_conv_geom *g, const float *x,
                                     float *y, void *workspace, size_t workspace_bytes, int num_threads)
    int gconv_openmp_enabled()
    void gconv_set_flush_denormal(int on)
    int gconv_get_flush_denormal()
    int gconv_flush_denormal_supported()
    unsigned gconv_fpenv_get()
    gconv_status gconv_fpenv_set(unsigned csr)
    double gconv_bench_fma_gflops(gconv_isa isa, long iters)
    double gconv_bench_triad_gbps(size_t floats, int reps, int num_threads)
    int gconv_bench_fork_join_us(int num_threads, int reps, double *region_us, double *barrier_us)
    int gconv_test_parallel_for(int threads, int in_team, int loops, int64_t items, int slow_tid, int slow_us,
                                int32_t *runner, int32_t *runs)
    int gconv_openmp_max_threads()

ISA_NAMES = ("scalar", "avx2", "avx512")
ALGO_NAMES = ("auto", "reference", "dwconv", "gemm", "grouped_direct", "winograd")
KIND_NAMES = ("gemm", "dwconv", "gconv", "vact", "gdc", "winograd")
ACTIVATION_NAMES = (None, "relu", "relu6", "prelu", "hardswish")


cdef int check(gconv_status st) except -1:
    """Turns a C status into the Python exception the API promises."""
    if st == GCONV_OK:
        return 0
    msg = gconv_last_error().decode("utf-8", "replace")
    if st == GCONV_ENOMEM:
        raise MemoryError(msg)
    if st == GCONV_EOVERFLOW:
        from gconv_cpu._errors import SizeOverflowError
        raise SizeOverflowError(msg)
    raise ValueError(msg)


def cpu_isa_mask():
    return gconv_cpu_isa_mask()


def openmp_enabled():
    return bool(gconv_openmp_enabled())


def openmp_max_threads():
    return gconv_openmp_max_threads()


def set_flush_denormal(bint on):
    """Process-wide FTZ|DAZ switch of the float kernels (gconv_cpu.set_flush_denormal validates)."""
    gconv_set_flush_denormal(on)


def get_flush_denormal():
    return bool(gconv_get_flush_denormal())


def flush_denormal_supported():
    return bool(gconv_flush_denormal_supported())


def fpenv_get():
    """The calling thread's MXCSR (0 off x86): for tests."""
    return gconv_fpenv_get()


def fpenv_set(unsigned csr):
    """Sets the calling thread's MXCSR; only FTZ, DAZ, rounding and flag bits may change: for tests."""
    check(gconv_fpenv_set(csr))


def fma_peak_gflops(str isa, long iters=20_000_000):
    """Single-core FP32 FMA throughput of one ISA path, in GFLOP/s (the roofline's ceiling)."""
    cdef int i = ISA_NAMES.index(isa)
    cdef double r
    with nogil:
        r = gconv_bench_fma_gflops(i, iters)
    if r < 0:
        raise ValueError(f"isa: this CPU cannot run {isa}")
    return r


def triad_bandwidth_gbps(size_t floats=1 << 25, int reps=5, int num_threads=1):
    """Stream-triad memory bandwidth in GB/s (best of reps), over 3 arrays of `floats` floats."""
    cdef double r
    with nogil:
        r = gconv_bench_triad_gbps(floats, reps, num_threads)
    if r < 0:
        raise ValueError("floats, reps and num_threads must be positive (and the buffers must fit in memory)")
    return r


def fork_join_us(int num_threads=2, int reps=2000):
    """(us per empty parallel region of num_threads, us per barrier inside one): the fixed cost of
    threading that the planner's per-step thread counts weigh against. (0, 0) without OpenMP."""
    cdef double region = 0, barrier = 0
    cdef int r
    with nogil:
        r = gconv_bench_fork_join_us(num_threads, reps, &region, &barrier)
    if r < 0:
        raise ValueError("num_threads and reps must be positive")
    return region, barrier


def parallel_for_check(int threads, bint in_team, int loops, int64_t items, int slow_tid=-1, int slow_us=0):
    """Test hook (common/team.c): runs `loops` parallel loops of `items` on `threads` threads and
    returns (runner, runs), each of shape (loops, items): the member that ran each item, and how
    many times it ran. Member slow_tid sleeps slow_us in its first chunk of every loop."""
    if threads < 1 or loops < 1 or items < 0 or slow_us < 0:
        raise ValueError("threads and loops must be positive, items and slow_us non-negative")
    runner = np.full((loops, items), -1, np.int32)
    runs = np.zeros((loops, items), np.int32)
    if items == 0:
        return runner, runs
    cdef int32_t[:, ::1] rv = runner, nv = runs
    cdef int r
    with nogil:
        r = gconv_test_parallel_for(threads, in_team, loops, items, slow_tid, slow_us, &rv[0, 0], &nv[0, 0])
    if r < 0:
        raise ValueError("bad arguments")
    return runner, runs


def kernel_table():
    """Every microkernel compiled in, as dicts (shared by tests and bench)."""
    cdef size_t n, i
    cdef const gconv_kernel_info *t = gconv_kernel_table(&n)
    return [dict(index=i, name=t[i].name.decode(), kind=KIND_NAMES[t[i].kind], isa=ISA_NAMES[t[i].isa],
                 mr=t[i].mr, nr=t[i].nr, nr_edge=t[i].nr_edge,
                 kernel_h=t[i].kernel_h, kernel_w=t[i].kernel_w, stride=t[i].stride,
                 activation=ACTIVATION_NAMES[t[i].activation], dilation=t[i].dilation,
                 prefetches_next=bool(t[i].prefetches_next))
            for i in range(n)]


cdef gconv_conv_desc make_desc(tuple spec, int activation=0) except *:
    cdef gconv_conv_desc d
    d.activation = activation
    (d.c_in, d.c_out, d.groups, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w,
     d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, d.clamp.min, d.clamp.max) = spec
    return d


cdef float *float_ptr(cnp.ndarray a, str name, int64_t count) except NULL:
    # (a byte-swapped float32 array has the same type number: its floats would be read as garbage)
    if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32 or not cnp.PyArray_ISNOTSWAPPED(a)
            or not cnp.PyArray_IS_C_CONTIGUOUS(a)):
        raise TypeError(f"{name} must be a C-contiguous float32 array")
    if cnp.PyArray_SIZE(a) < count:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(a)} elements, needs {count}")
    return <float *>cnp.PyArray_DATA(a)


cdef int workspace_view(object workspace, void **ptr, size_t *nbytes) except -1:
    """The C core's scratch: a contiguous uint8 array (64-byte aligned: the core checks), or None."""
    ptr[0], nbytes[0] = NULL, 0
    if workspace is None:
        return 0
    cdef cnp.ndarray ws = <cnp.ndarray?>workspace
    if not cnp.PyArray_IS_C_CONTIGUOUS(ws) or cnp.PyArray_ITEMSIZE(ws) != 1:
        raise TypeError("workspace must be a contiguous uint8 array")
    ptr[0] = cnp.PyArray_DATA(ws)
    nbytes[0] = <size_t>cnp.PyArray_NBYTES(ws)
    return 0


def check_out(out, shape, x):
    """Validates a caller-provided output buffer (out= of a layer or of conv2d) for an output of
    this shape and input x. Here rather than in _validate: it runs on every call of the hot path,
    where np.may_share_memory and the flag lookups took 0.44 us of a 1.7 us call."""
    if type(out) is not np.ndarray:
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(o) != cnp.NPY_FLOAT32 or not cnp.PyArray_ISNOTSWAPPED(o)
            or not cnp.PyArray_IS_C_CONTIGUOUS(o) or not cnp.PyArray_ISWRITEABLE(o)):
        raise TypeError("out must be a writable C-contiguous float32 array")
    cdef int nd = cnp.PyArray_NDIM(o), i
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(o)
    cdef bint same = len(shape) == nd
    if same:
        for i in range(nd):
            if dims[i] != shape[i]:
                same = False
                break
    if not same:
        raise ValueError(f"out: expected shape {tuple(shape)}, got {out.shape}")
    cdef cnp.ndarray xa
    cdef uintptr_t x0, x1, o0 = <uintptr_t>cnp.PyArray_DATA(o), o1 = o0 + <uintptr_t>cnp.PyArray_NBYTES(o)
    if type(x) is np.ndarray and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x):
        xa = <cnp.ndarray>x
        x0 = <uintptr_t>cnp.PyArray_DATA(xa)
        x1 = x0 + <uintptr_t>cnp.PyArray_NBYTES(xa)
        overlap = x0 < o1 and o0 < x1 and x1 > x0 and o1 > o0
    else:
        overlap = np.may_share_memory(out, x)
    if overlap:
        raise ValueError("out must not overlap the input x")
    return out


def output_size(tuple spec, int64_t batch, int64_t in_h, int64_t in_w):
    """(out_h, out_w) as C computes it, with C's checks."""
    cdef gconv_conv_desc d = make_desc(spec)
    cdef gconv_conv_geom g
    g.batch, g.in_h, g.in_w = batch, in_h, in_w
    check(gconv_conv_output_size(&d, &g))
    return g.out_h, g.out_w


cdef class ConvPlan:
    """Packed weights plus the chosen algorithm and microkernel for one conv."""
    cdef gconv_conv_plan *plan
    cdef gconv_conv_desc desc
    cdef readonly tuple spec

    def __cinit__(self, tuple spec, cnp.ndarray weight, bias, int isa, int algo, int activation=0,
                  prelu_weight=None):
        self.plan = NULL
        self.spec = spec
        self.desc = make_desc(spec, activation)
        check(gconv_conv_desc_check(&self.desc))
        cdef int64_t wcount = self.desc.c_out * (self.desc.c_in // self.desc.groups) * self.desc.kernel_h * self.desc.kernel_w
        cdef const float *w = float_ptr(weight, "weight", wcount)
        cdef const float *b = NULL
        if bias is not None:
            b = float_ptr(bias, "bias", self.desc.c_out)
        cdef const float *slope = NULL
        if prelu_weight is not None:
            slope = float_ptr(prelu_weight, "prelu_weight", self.desc.c_out)
        cdef gconv_status st
        with nogil:
            st = gconv_conv_plan_create(&self.desc, w, b, slope, isa, algo, &self.plan)
        check(st)

    def __dealloc__(self):
        gconv_conv_plan_destroy(self.plan)

    @property
    def algorithm(self):
        return ALGO_NAMES[gconv_conv_plan_algo(self.plan)]

    @property
    def isa(self):
        return ISA_NAMES[gconv_conv_plan_isa(self.plan)]

    @property
    def kernel_name(self):
        return gconv_conv_plan_kernel_name(self.plan).decode()

    @property
    def global_kernel_name(self):
        cdef const char *name = gconv_conv_plan_global_kernel_name(self.plan)
        return None if name == NULL else name.decode()

    def kernel_name_for(self, int64_t batch, int64_t in_h, int64_t in_w):
        """The microkernel a run on this input size calls (the GDC kernel where it takes over)."""
        cdef gconv_conv_geom g
        g.batch, g.in_h, g.in_w = batch, in_h, in_w
        check(gconv_conv_output_size(&self.desc, &g))
        return gconv_conv_plan_kernel_name_for(self.plan, &g).decode()

    @property
    def packed_bytes(self):
        return gconv_conv_plan_packed_bytes(self.plan)

    def geometry(self, int64_t batch, int64_t in_h, int64_t in_w, int num_threads):
        """(out_h, out_w, workspace_bytes) for one input size and thread count."""
        cdef gconv_conv_geom g
        cdef size_t ws
        g.batch, g.in_h, g.in_w = batch, in_h, in_w
        check(gconv_conv_output_size(&self.desc, &g))
        check(gconv_conv_plan_workspace_size(self.plan, &g, num_threads, &ws))
        return g.out_h, g.out_w, ws

    def run(self, cnp.ndarray x, cnp.ndarray y, workspace, int num_threads):
        """y = conv(x). x (N, C_in, H, W) and y (N, C_out, H_out, W_out): C-contiguous float32."""
        if cnp.PyArray_NDIM(x) != 4 or cnp.PyArray_NDIM(y) != 4:
            raise ValueError("x and out must be 4-D")
        cdef cnp.npy_intp *xs = cnp.PyArray_DIMS(x)
        cdef cnp.npy_intp *ys = cnp.PyArray_DIMS(y)
        if xs[1] != self.desc.c_in:
            raise ValueError(f"x: expected {self.desc.c_in} channels, got {xs[1]}")
        cdef gconv_conv_geom g
        g.batch, g.in_h, g.in_w, g.out_h, g.out_w = xs[0], xs[2], xs[3], ys[2], ys[3]
        if ys[0] != xs[0] or ys[1] != self.desc.c_out:
            raise ValueError(f"out: expected shape ({xs[0]}, {self.desc.c_out}, H_out, W_out), got {(<object>y).shape}")
        cdef const float *xp = float_ptr(x, "x", 0)
        cdef float *yp = float_ptr(y, "out", 0)
        cdef void *wp
        cdef size_t wbytes
        workspace_view(workspace, &wp, &wbytes)
        cdef gconv_status st
        with nogil:
            st = gconv_conv_plan_run(self.plan, &g, xp, yp, wp, wbytes, num_threads)
        check(st)
        return y


# ---- direct access to each microkernel, for the kernel tests and bench ----

cdef const gconv_kernel_info *kernel_at(size_t index) except NULL:
    cdef size_t n
    cdef const gconv_kernel_info *t = gconv_kernel_table(&n)
    if index >= n:
        raise IndexError(f"kernel index {index} out of range (table has {n})")
    if not (gconv_cpu_isa_mask() & (1u << t[index].isa)):
        raise RuntimeError(f"this CPU cannot run {t[index].name.decode()}")
    return &t[index]


def gemm_ukernel(size_t index, size_t mr, size_t nc, size_t kc, cnp.ndarray w, cnp.ndarray b, size_t b_stride,
                 cnp.ndarray c, size_t c_stride, float cmin, float cmax):
    """Calls one GEMM microkernel on NumPy buffers (whose lengths are checked here)."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.gemm == NULL:
        raise ValueError("not a GEMM kernel")
    if not (1 <= mr <= <size_t>k.mr and 1 <= nc <= <size_t>(k.nr + k.nr_edge) and kc >= 1):
        raise ValueError("tile out of range")
    cdef const float *wp = float_ptr(w, "w", k.mr * (kc + 1))
    cdef const float *bp = float_ptr(b, "b", (kc - 1) * b_stride + nc)
    cdef float *cp = float_ptr(c, "c", (mr - 1) * c_stride + nc)
    cdef gconv_minmax clamp
    clamp.min, clamp.max = cmin, cmax
    with nogil:
        k.gemm(mr, nc, kc, wp, bp, b_stride, cp, c_stride, &clamp)


cdef int plane_geometry(tuple geom, gconv_dw_geom *g, gconv_minmax *clamp, float cmin, float cmax) except -1:
    """Parses (in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
    pad_top, pad_bottom, pad_left, pad_right) with the C checks, and fills the kernel geometry."""
    cdef gconv_conv_desc d
    cdef gconv_conv_geom cg
    d.c_in = d.c_out = d.groups = 1
    d.activation = 0
    cg.batch = 1
    (cg.in_h, cg.in_w, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w,
     d.pad_top, d.pad_bottom, d.pad_left, d.pad_right) = geom
    d.clamp.min, d.clamp.max = cmin, cmax
    check(gconv_conv_output_size(&d, &cg))
    g.in_h, g.in_w, g.out_h, g.out_w = cg.in_h, cg.in_w, cg.out_h, cg.out_w
    g.kernel_h, g.kernel_w, g.stride_h, g.stride_w = d.kernel_h, d.kernel_w, d.stride_h, d.stride_w
    g.dilation_h, g.dilation_w, g.pad_top, g.pad_left = d.dilation_h, d.dilation_w, d.pad_top, d.pad_left
    clamp[0] = d.clamp
    return 0


def dw_ukernel(size_t index, tuple geom, cnp.ndarray x, cnp.ndarray w, cnp.ndarray out,
               int64_t oy_begin, int64_t oy_end, float cmin, float cmax):
    """Calls one depthwise microkernel on one plane (geom: see plane_geometry)."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.dw == NULL:
        raise ValueError("not a depthwise kernel")
    cdef gconv_dw_geom g
    cdef gconv_minmax clamp
    plane_geometry(geom, &g, &clamp, cmin, cmax)
    if not (0 <= oy_begin <= oy_end <= g.out_h):
        raise ValueError("row range out of bounds")
    cdef const float *xp = float_ptr(x, "x", g.in_h * g.in_w)
    cdef const float *wp = float_ptr(w, "w", 1 + g.kernel_h * g.kernel_w)
    cdef float *op = float_ptr(out, "out", g.out_h * g.out_w)
    with nogil:
        k.dw(&g, xp, wp, op, oy_begin, oy_end, &clamp)
    return g.out_h, g.out_w


def dw_multi_ukernel(size_t index, tuple geom, size_t channels, cnp.ndarray x, size_t in_stride, cnp.ndarray w,
                     cnp.ndarray out, int64_t oy_begin, int64_t oy_end, float cmin, float cmax):
    """Calls the multi-channel form of a depthwise microkernel: channel c reads x[c*in_stride:]
    (in_stride 0: one shared plane), weights w[c*(1+kh*kw):], writes out[c*out_h*out_w:]."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.dw_multi == NULL:
        raise ValueError("not a multi-channel depthwise kernel")
    cdef gconv_dw_geom g
    cdef gconv_minmax clamp
    plane_geometry(geom, &g, &clamp, cmin, cmax)
    if not (0 <= oy_begin <= oy_end <= g.out_h):
        raise ValueError("row range out of bounds")
    if channels < 1:
        raise ValueError("channels must be positive")
    cdef const float *xp = float_ptr(x, "x", (channels - 1) * in_stride + g.in_h * g.in_w)
    cdef const float *wp = float_ptr(w, "w", channels * (1 + g.kernel_h * g.kernel_w))
    cdef float *op = float_ptr(out, "out", channels * g.out_h * g.out_w)
    with nogil:
        k.dw_multi(&g, channels, xp, in_stride, wp, op, oy_begin, oy_end, &clamp)
    return g.out_h, g.out_w


def gdc_ukernel(size_t index, size_t channels, size_t taps, cnp.ndarray x, size_t in_stride, cnp.ndarray w,
                cnp.ndarray out, float cmin, float cmax):
    """Calls one global-depthwise microkernel: out[c] = clamp(w[c*(taps+1)] + dot(x[c*in_stride:][:taps],
    w[c*(taps+1)+1:][:taps])) for c < channels."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.gdc == NULL:
        raise ValueError("not a gdc kernel")
    if channels < 1 or taps < 1:
        raise ValueError("channels and taps must be positive")
    cdef const float *xp = float_ptr(x, "x", (channels - 1) * in_stride + taps)
    cdef const float *wp = float_ptr(w, "w", channels * (taps + 1))
    cdef float *op = float_ptr(out, "out", channels)
    cdef gconv_minmax clamp
    clamp.min, clamp.max = cmin, cmax
    with nogil:
        k.gdc(channels, taps, xp, in_stride, wp, op, &clamp)


def vact_ukernel(size_t index, cnp.ndarray x, float param):
    """Calls one in-place activation microkernel on a whole float32 array."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.vact == NULL:
        raise ValueError("not an activation kernel")
    cdef float *xp = float_ptr(x, "x", 0)
    cdef size_t n = <size_t>cnp.PyArray_SIZE(x)
    with nogil:
        k.vact(n, xp, param)


def gconv_ukernel(size_t index, tuple geom, size_t cin, size_t cout, cnp.ndarray x, cnp.ndarray w,
                  cnp.ndarray out, int64_t oy_begin, int64_t oy_end, float cmin, float cmax):
    """Calls one direct grouped-conv microkernel: cin input planes -> cout (<= mr) output planes."""
    cdef const gconv_kernel_info *k = kernel_at(index)
    if k.gconv == NULL:
        raise ValueError("not a grouped-conv kernel")
    if not (1 <= cout <= <size_t>k.mr and cin >= 1):
        raise ValueError("cin/cout out of range")
    cdef gconv_dw_geom g
    cdef gconv_minmax clamp
    plane_geometry(geom, &g, &clamp, cmin, cmax)
    if not (0 <= oy_begin <= oy_end <= g.out_h):
        raise ValueError("row range out of bounds")
    cdef const float *xp = float_ptr(x, "x", cin * g.in_h * g.in_w)
    cdef const float *wp = float_ptr(w, "w", k.mr * (1 + cin * g.kernel_h * g.kernel_w))
    cdef float *op = float_ptr(out, "out", cout * g.out_h * g.out_w)
    with nogil:
        k.gconv(&g, cin, cout, xp, wp, op, oy_begin, oy_end, &clamp)
    return g.out_h, g.out_w


# ---- the other operators, each in its own file (still one extension module) ----
include "_ops.pxi"
include "_deconv.pxi"
include "_graph.pxi"
include "_winograd.pxi"
