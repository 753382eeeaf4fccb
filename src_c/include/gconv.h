/*
 * gconv_cpu C core: public interface used by the Cython binding.
 *
 * Design (after XNNPACK): an operator layer (gconv_conv_plan_*) validates the
 * convolution, chooses an algorithm and packs weights once; microkernels
 * (src_c/gemm, src_c/dwconv) are tight loops per ISA and tile, listed in one
 * table (gconv_kernel_table) shared by the planner, the tests and the benchmarks.
 *
 * Every function is reentrant: scratch memory is passed in by the caller.
 */
#ifndef GCONV_H
#define GCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GCONV_OK = 0,
    GCONV_EINVAL = 1,    /* a parameter is out of range; message says which */
    GCONV_EOVERFLOW = 2, /* a size does not fit in 64 bits / size_t */
    GCONV_ENOMEM = 3,
    GCONV_EUNSUPPORTED = 4 /* ISA or algorithm not available for this conv */
} gconv_status;

typedef enum {
    GCONV_ISA_SCALAR = 0,
    GCONV_ISA_AVX2 = 1,   /* AVX2 + FMA */
    GCONV_ISA_AVX512 = 2, /* AVX-512F */
    GCONV_ISA_COUNT = 3
} gconv_isa;

typedef enum {
    GCONV_ALGO_AUTO = 0,
    GCONV_ALGO_REFERENCE = 1, /* plain direct loops, the oracle for every other path */
    GCONV_ALGO_DWCONV = 2,    /* direct depthwise (groups == c_in, any multiplier) */
    GCONV_ALGO_GEMM = 3,      /* per-group GEMM; 1x1/s1/p0 reads the input in place, else per-tile im2col */
    GCONV_ALGO_GROUPED_DIRECT = 4, /* direct conv for groups of few channels (ResNeXt), no im2col */
    GCONV_ALGO_WINOGRAD = 5,  /* Winograd F(4x4,3x3) / F(2x2,5x5): stride 1, dilation 1, padding <= r/2, >= 16 channels per group */
    GCONV_ALGO_COUNT = 6
} gconv_algo;

typedef enum {
    GCONV_KERNEL_GEMM = 0,
    GCONV_KERNEL_DWCONV = 1,
    GCONV_KERNEL_GCONV = 2,
    GCONV_KERNEL_VACT = 3,
    GCONV_KERNEL_GDC = 4, /* global depthwise conv: 1x1 output, kernel == input */
    GCONV_KERNEL_WINOGRAD = 5 /* Winograd input and output transforms */
} gconv_kernel_kind;

/* Activation fused after the bias. ReLU/ReLU6 become the kernels' clamp; PReLU
 * (per output channel) and HardSwish run on each output tile while it is in cache. */
typedef enum {
    GCONV_ACT_NONE = 0,
    GCONV_ACT_RELU = 1,
    GCONV_ACT_RELU6 = 2,
    GCONV_ACT_PRELU = 3,
    GCONV_ACT_HARDSWISH = 4,
    GCONV_ACT_COUNT = 5
} gconv_activation;

/* Output clamp fused into every kernel; (-inf, +inf) means none, (0, inf) ReLU, (0, 6) ReLU6. */
typedef struct {
    float min;
    float max;
} gconv_minmax;

/* Layer-fixed description of a convolution (no input geometry). */
typedef struct {
    int64_t c_in, c_out, groups;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t dilation_h, dilation_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    gconv_minmax clamp;
    gconv_activation activation; /* GCONV_ACT_PRELU needs c_out slopes at plan creation */
} gconv_conv_desc;

/* Geometry of one call. */
typedef struct {
    int64_t batch, in_h, in_w;
    int64_t out_h, out_w; /* filled by gconv_conv_output_size */
} gconv_conv_geom;

/* ---- GEMM microkernel ----------------------------------------------------
 * Computes an mr x nc tile (mr <= MR, nc <= NR):
 *   c[i*c_stride + j] = clamp(w[i] + sum_k w[MR + k*MR + i] * b[k*b_stride + j])
 * w is one packed panel: MR bias values, then kc groups of MR weights (rows
 * beyond the real M are zero). Only the nc valid columns of b and c are
 * touched: no reads or writes past them, so NumPy buffers need no slack.
 */
typedef void (*gconv_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc,
                                      const float *w, const float *b, size_t b_stride,
                                      float *c, size_t c_stride,
                                      const gconv_minmax *clamp);

/* ---- Depthwise microkernel ----------------------------------------------
 * Computes output rows [oy_begin, oy_end) of one channel plane.
 * w: 1 bias value followed by kernel_h*kernel_w taps (row-major).
 */
typedef struct {
    int64_t in_h, in_w, out_h, out_w;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t dilation_h, dilation_w;
    int64_t pad_top, pad_left;
} gconv_dw_geom;

typedef void (*gconv_dw_ukernel_fn)(const gconv_dw_geom *g, const float *in_plane,
                                    const float *w, float *out_plane,
                                    int64_t oy_begin, int64_t oy_end,
                                    const gconv_minmax *clamp);

/* The same over a run of channels (optional, for specialized kernels): channel c
 * reads in + c*in_stride (in_stride 0: the channels share one input plane, as with
 * a depth multiplier), weights w + c*(1 + kernel_h*kernel_w), and writes rows
 * [oy_begin, oy_end) of out + c*out_h*out_w. One call per run instead of per plane
 * matters when a plane is only ~15 output vectors (14x14). */
typedef void (*gconv_dw_multi_ukernel_fn)(const gconv_dw_geom *g, size_t channels, const float *in,
                                          size_t in_stride, const float *w, float *out,
                                          int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);

/* ---- Direct grouped-conv microkernel ------------------------------------
 * Computes output rows [oy_begin, oy_end) of cout (<= 4) output channels of one
 * group from its cin input planes (in: cin planes of in_h*in_w; out: cout planes
 * of out_h*out_w). w: one packed block: 4 biases, then for each
 * (ci, ky, kx) 4 weights, one per output channel (zero beyond cout).
 */
typedef void (*gconv_gconv_ukernel_fn)(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                       const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                       const gconv_minmax *clamp);

/* ---- In-place activation microkernel: x[i] = act(x[i]) for i < n ---------
 * param: the PReLU slope (unused by HardSwish). */
typedef void (*gconv_vact_ukernel_fn)(size_t n, float *x, float param);

/* ---- Global depthwise microkernel (GDC) --------------------------------
 * The depthwise case where the kernel covers the whole input without padding
 * (1x1 output): channel c is one dot product over `taps` = in_h*in_w floats.
 *   out[c] = clamp(w[c*(taps+1)] + sum_t w[c*(taps+1) + 1 + t] * in[c*in_stride + t])
 * for c < channels (w: the dwconv packing, bias then taps, per channel). Many
 * channels per call because each is only a few vectors of work.
 */
typedef void (*gconv_gdc_ukernel_fn)(size_t channels, size_t taps, const float *in, size_t in_stride,
                                     const float *w, float *out, const gconv_minmax *clamp);

/* ---- Winograd transform microkernels ----------------------------------
 * F(m x m, r x r) with a 6x6 transform (m + r - 1 = 6: F(4x4, 3x3) and F(2x2, 5x5)); the
 * table entry gives m (mr) and r (kernel_h). The output is cut into m x m tiles, tiles_w =
 * ceil(out_w / m) per tile row, numbered t = ty * tiles_w + tx. Tile t reads the 6x6 window of
 * the zero-padded input plane at rows m*ty - pad_top + [0, 6) and columns m*tx - pad_left +
 * [0, 6) (g's kernel, stride and dilation fields are ignored: r x r, 1, 1). xi = 6*i + j
 * indexes the 36 transform points.
 * Both transforms take the tiles t_begin <= t < t_end (t_end <= tiles_h * tiles_w) and the
 * channels c < channels.
 *
 * Slots: tile t lives in column ("slot") s of v and m. The tiles are taken in order into
 * groups of L slots, L = the kernel's nr (the vector lanes), group after group. With L = 1
 * (scalar) every group is one tile, s = t - t_begin. Otherwise a group is filled with pieces,
 * runs of consecutive tiles of one tile row: a piece of n tiles (spanning m*n + r - 1 input
 * columns) starts at a slot that is a multiple of L/m and takes (L/m) * ceil((m*n + r - 1) / L)
 * slots, except that a piece of L tiles fills a group alone; a piece never runs past a tile row
 * or t_end, and is cut where the group is full. gconv_wino_next_group() (src_c/winograd/winograd.h) is this rule; aligned vectors
 * and whole groups are what make it fast. The slots of a group that hold no tile are gaps.
 *
 * Input transform (channel c's plane at in + c*in_stride), every slot of every group:
 *   v[xi*xi_stride + c*c_stride + s] = (B^T d B)[i][j]   (gaps: finite values if the input is)
 * Returns nonzero iff a value inside the tiles' windows is NaN or +-Inf (the caller then
 * computes these tiles another way: the transforms would spread it over whole tiles).
 *
 * Output transform (reads every slot of the groups, gaps included):
 *   out[c*out_stride + (m*ty + y)*out_w + m*tx + x] = clamp(bias[c] + (A^T M A)[y][x])
 * with M[i][j] = m[xi*xi_stride + c*c_stride + s], for the y, x < m that fall inside
 * out_h x out_w; nothing else is written. */
#define GCONV_WINO_POINTS 36
typedef int (*gconv_wino_in_ukernel_fn)(const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride,
                                        int64_t t_begin, int64_t t_end, float *v, size_t xi_stride, size_t c_stride);
typedef void (*gconv_wino_out_ukernel_fn)(const gconv_dw_geom *g, size_t channels, const float *m, size_t xi_stride,
                                          size_t c_stride, const float *bias, float *out, size_t out_stride,
                                          int64_t t_begin, int64_t t_end, const gconv_minmax *clamp);

/* One entry of the kernel table. kernel_h/w, stride of 0 mean "any". */
typedef struct {
    const char *name;          /* e.g. "f32-gemm-8x32-avx512" */
    gconv_kernel_kind kind;
    gconv_isa isa;
    int mr, nr;                /* GEMM tile; 1/1 for dwconv */
    int kernel_h, kernel_w, stride; /* dwconv specialization, 0 = generic */
    gconv_gemm_ukernel_fn gemm;
    gconv_dw_ukernel_fn dw;
    gconv_gconv_ukernel_fn gconv;
    gconv_vact_ukernel_fn vact;
    gconv_activation activation; /* which activation a VACT kernel computes */
    int dilation;              /* dwconv specialization: 0 = any (the kernel reads it from the geometry), else dilation_h and dilation_w must equal it */
    gconv_gdc_ukernel_fn gdc;
    gconv_dw_multi_ukernel_fn dw_multi; /* dwconv: multi-channel form of dw, or NULL */
    gconv_wino_in_ukernel_fn wino_in;   /* winograd: input transform (nr = tiles per vector) */
    gconv_wino_out_ukernel_fn wino_out; /* winograd: output transform */
    int nr_edge; /* GEMM: a call may take nc up to nr + nr_edge (the planner gives a tile's last call
                  * up to nr_edge more columns, instead of a few-pixel call that streams the weights again;
                  * a plane of a multiple of nr + nr_edge pixels runs in calls of that many) */
    int prefetches_next; /* GEMM: also prefetches the next call's columns of b into L2 (a -prfm twin of the
                          * tile with the same name: the planner never takes it as an ISA's tile) */
} gconv_kernel_info;

/* The table of every kernel compiled into this build (all ISAs). */
const gconv_kernel_info *gconv_kernel_table(size_t *count);

/* CPU features: bitmask of (1 << gconv_isa) the CPU and OS can run. */
unsigned gconv_cpu_isa_mask(void);
const char *gconv_isa_name(gconv_isa isa);

/* ---- Operator ----------------------------------------------------------- */

/* Thread-local last error message for the calling thread ("" if none). */
const char *gconv_last_error(void);

/* Validates desc (every check the kernels depend on) in 64-bit arithmetic. */
gconv_status gconv_conv_desc_check(const gconv_conv_desc *d);

/* Validates geom against desc and fills out_h/out_w. */
gconv_status gconv_conv_output_size(const gconv_conv_desc *d, gconv_conv_geom *g);

typedef struct gconv_conv_plan gconv_conv_plan;

/* Chooses an algorithm (or honours algo) and packs weights for isa.
 * weight: (c_out, c_in/groups, kernel_h, kernel_w) contiguous; bias: (c_out) or NULL;
 * prelu_slope: (c_out) when d->activation is GCONV_ACT_PRELU, else ignored. */
gconv_status gconv_conv_plan_create(const gconv_conv_desc *d, const float *weight,
                                    const float *bias, const float *prelu_slope, gconv_isa isa,
                                    gconv_algo algo, gconv_conv_plan **out);
void gconv_conv_plan_destroy(gconv_conv_plan *p);
const gconv_conv_desc *gconv_conv_plan_desc(const gconv_conv_plan *p);
gconv_algo gconv_conv_plan_algo(const gconv_conv_plan *p);
gconv_isa gconv_conv_plan_isa(const gconv_conv_plan *p);
/* Name of the microkernel the plan runs ("ref" for the reference). */
const char *gconv_conv_plan_kernel_name(const gconv_conv_plan *p);
/* A depthwise plan's global-depthwise (GDC) kernel, which runs instead of the named one on an input
 * exactly the kernel's size with no padding (a 1x1 output); NULL where the plan has none. */
const char *gconv_conv_plan_global_kernel_name(const gconv_conv_plan *p);
/* The microkernel a run on this geometry calls: the named one, or the GDC one where it takes over.
 * g: as for gconv_conv_plan_run (in_h, in_w read). */
const char *gconv_conv_plan_kernel_name_for(const gconv_conv_plan *p, const gconv_conv_geom *g);
size_t gconv_conv_plan_packed_bytes(const gconv_conv_plan *p);

/* Bytes of scratch that run needs for this geometry and thread count. */
gconv_status gconv_conv_plan_workspace_size(const gconv_conv_plan *p, const gconv_conv_geom *g,
                                            int num_threads, size_t *bytes);

/* Runs the convolution. x: (batch, c_in, in_h, in_w), y: (batch, c_out, out_h, out_w),
 * both contiguous. workspace: at least workspace_size bytes, 64-byte aligned. */
gconv_status gconv_conv_plan_run(const gconv_conv_plan *p, const gconv_conv_geom *g,
                                 const float *x, float *y, void *workspace,
                                 size_t workspace_bytes, int num_threads);

/* Machine ceilings for bench/ (the roofline): single-core FP32 FMA GFLOP/s for one ISA
 * (-1 if unavailable), and best-of-reps stream-triad bandwidth in GB/s. */
double gconv_bench_fma_gflops(gconv_isa isa, long iters);
double gconv_bench_triad_gbps(size_t floats, int reps, int num_threads);
/* Microseconds per empty parallel region of num_threads (fork + join) and per barrier within one. */
int gconv_bench_fork_join_us(int num_threads, int reps, double *region_us, double *barrier_us);

/* Test hook for common/team.c: `loops` parallel loops of `items` on `threads` threads, in one team
 * (in_team) or one region each; member slow_tid (-1: none) sleeps slow_us in its first chunk of each
 * loop. runs[loop*items + i] counts the runs of item i, runner[...] is the member that ran it last. */
int gconv_test_parallel_for(int threads, int in_team, int loops, int64_t items, int slow_tid, int slow_us,
                            int32_t *runner, int32_t *runs);

/* Flush denormals: FTZ|DAZ in every thread of every float kernel call, the caller's MXCSR restored
 * afterwards (src_c/common/fpenv.h). Process-wide, default on; off clears FTZ|DAZ for the call, so
 * subnormals are computed exactly as torch's defaults do. Read once per outermost call. */
void gconv_set_flush_denormal(int on);
int gconv_get_flush_denormal(void);
int gconv_flush_denormal_supported(void); /* 0 where there is no MXCSR (the switch is a no-op) */

/* The calling thread's MXCSR (0 off x86), and a setter that may change only its FTZ, DAZ, rounding
 * and flag bits: for the tests that check that calls leave the caller's floating-point mode alone. */
unsigned gconv_fpenv_get(void);
gconv_status gconv_fpenv_set(unsigned csr);

/* OpenMP facts for the Python thread helper. */
int gconv_openmp_enabled(void);
int gconv_openmp_max_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* GCONV_H */
