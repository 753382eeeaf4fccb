# Test hooks for the Winograd transform microkernels (contracts in src_c/include/gconv.h).
# Included by _ext.pyx: uses its kernel_at, plane_geometry and float_ptr.

cdef extern from "../winograd/winograd.h" nogil:
    int64_t gconv_wino_slots(int64_t t_begin, int64_t t_end, int64_t tiles_w, int lanes, int m, int r)
    int gconv_winograd_in_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *inp,
                               size_t in_stride, int64_t t_begin, int64_t t_end, float *v, size_t xi_stride,
                               size_t c_stride)
    void gconv_winograd_out_hook(size_t index, const gconv_dw_geom *g, size_t channels, const float *m,
                                 size_t xi_stride, size_t c_stride, const float *bias, float *out, size_t out_stride,
                                 int64_t t_begin, int64_t t_end, const gconv_minmax *clamp)


cdef int wino_args(size_t index, tuple geom, size_t channels, int64_t t_begin, int64_t t_end, gconv_dw_geom *g,
                   gconv_minmax *clamp, float cmin, float cmax, int64_t *slots) except -1:
    cdef const gconv_kernel_info *k = kernel_at(index)
    if KIND_NAMES[k.kind] != "winograd":
        raise ValueError("not a Winograd kernel")
    if tuple(geom[2:8]) != (k.kernel_h, k.kernel_h, 1, 1, 1, 1):
        raise ValueError(f"geom: these Winograd transforms take a {k.kernel_h}x{k.kernel_h} kernel, stride 1, dilation 1")
    plane_geometry(geom, g, clamp, cmin, cmax)
    if channels < 1:
        raise ValueError("channels must be positive")
    cdef int64_t tiles_w = (g.out_w + k.mr - 1) // k.mr, tiles = ((g.out_h + k.mr - 1) // k.mr) * tiles_w
    if not (0 <= t_begin < t_end <= tiles):
        raise ValueError(f"tile range [{t_begin}, {t_end}) out of bounds ({tiles} tiles)")
    slots[0] = gconv_wino_slots(t_begin, t_end, tiles_w, k.nr, k.mr, k.kernel_h)
    return 0


def winograd_slots(int64_t t_begin, int64_t t_end, int64_t tiles_w, int lanes, int m=4, int r=3):
    """Slots the tiles [t_begin, t_end) take in the layout of an F(m x m, r x r) kernel with `lanes` lanes."""
    if not (0 <= t_begin <= t_end and tiles_w >= 1 and lanes in (1, 8, 16) and (m, r) in ((4, 3), (2, 5))):
        raise ValueError("bad slot layout arguments")
    return gconv_wino_slots(t_begin, t_end, tiles_w, lanes, m, r)


def winograd_in_ukernel(size_t index, tuple geom, size_t channels, cnp.ndarray x, size_t in_stride,
                        int64_t t_begin, int64_t t_end, cnp.ndarray v, size_t xi_stride, size_t c_stride):
    """Input transform of tiles [t_begin, t_end): v[xi*xi_stride + c*c_stride + slot]; returns the
    kernel's non-finite flag."""
    cdef gconv_dw_geom g
    cdef gconv_minmax clamp
    cdef int64_t slots
    wino_args(index, geom, channels, t_begin, t_end, &g, &clamp, -np.inf, np.inf, &slots)
    cdef const float *xp = float_ptr(x, "x", (channels - 1) * in_stride + g.in_h * g.in_w)
    cdef float *vp = float_ptr(v, "v", 35 * xi_stride + (channels - 1) * c_stride + slots)
    cdef int r
    with nogil:
        r = gconv_winograd_in_hook(index, &g, channels, xp, in_stride, t_begin, t_end, vp, xi_stride, c_stride)
    return r


def winograd_out_ukernel(size_t index, tuple geom, size_t channels, cnp.ndarray m, size_t xi_stride,
                         size_t c_stride, cnp.ndarray bias, cnp.ndarray out, size_t out_stride, int64_t t_begin,
                         int64_t t_end, float cmin, float cmax):
    """Output transform of tiles [t_begin, t_end) into channels planes of out (out_stride apart)."""
    cdef gconv_dw_geom g
    cdef gconv_minmax clamp
    cdef int64_t slots
    wino_args(index, geom, channels, t_begin, t_end, &g, &clamp, cmin, cmax, &slots)
    cdef const float *mp = float_ptr(m, "m", 35 * xi_stride + (channels - 1) * c_stride + slots)
    cdef const float *bp = float_ptr(bias, "bias", channels)
    cdef float *op = float_ptr(out, "out", (channels - 1) * out_stride + g.out_h * g.out_w)
    with nogil:
        gconv_winograd_out_hook(index, &g, channels, mp, xi_stride, c_stride, bp, op, out_stride, t_begin, t_end,
                                &clamp)
    return g.out_h, g.out_w
