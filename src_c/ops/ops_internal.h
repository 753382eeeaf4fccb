/* Helpers shared by the non-convolution operators (src_c/ops). */
#ifndef GCONV_OPS_INTERNAL_H
#define GCONV_OPS_INTERNAL_H

#include "../common/internal.h"
#include "gconv_ops.h"

#include <math.h>


/* Below this many floats of work a parallel region costs more than it saves
 * (waking a team is ~1-5 us; a core streams ~4 floats/ns). Element-wise work
 * with a transcendental per float passes a weight so it goes parallel sooner. */
#define GCONV_OPS_PARALLEL_FLOATS ((int64_t)1 << 15)

/* Unit of work of the chunked element-wise loops: big enough to amortize the
 * per-chunk bookkeeping, small enough to balance two threads on a 56x56 map. */
#define GCONV_OPS_CHUNK ((int64_t)1 << 13)

/* Validates one shape (non-NULL, each dim >= 0, n*c*h*w*4 bytes fits a size_t
 * with room to spare) and returns its element count. `name` is the parameter
 * named in the error message. */
gconv_status gconv_ops_check_shape(const gconv_tensor_shape *s, const char *name, int64_t *numel);

/* Threads worth using for `items` independent work items totalling
 * `work_floats` floats (weighted by cost): 1 when the work is small. */
static inline int gconv_ops_threads(int num_threads, int64_t items, int64_t work_floats) {
    if (num_threads <= 1 || items <= 1 || work_floats < GCONV_OPS_PARALLEL_FLOATS) return 1;
    return items < num_threads ? (int)items : num_threads;
}

static inline int64_t gconv_ops_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t gconv_ops_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- element-wise loops, one table per ISA (eltwise_loops.h) ---- */
typedef void (*gconv_unary_loop_fn)(const float *x, float *y, int64_t n, float p, float q);
typedef void (*gconv_binary_vv_fn)(const float *a, const float *b, float *y, int64_t n);
typedef void (*gconv_binary_sv_fn)(float a, const float *b, float *y, int64_t n);
typedef void (*gconv_binary_vs_fn)(const float *a, float b, float *y, int64_t n);

typedef struct {
    /* y[i] = f(x[i]) with the kind's two parameters p, q (per-channel values for PReLU/affine) */
    gconv_unary_loop_fn relu, clip, hardswish, hardsigmoid_torch, hardsigmoid, affine, sigmoid, silu, slope;
    /* y = a (op) b: vector-vector, scalar-vector, vector-scalar; indexed by gconv_binary_kind */
    gconv_binary_vv_fn vv[GCONV_BINARY_COUNT];
    gconv_binary_sv_fn sv[GCONV_BINARY_COUNT];
    gconv_binary_vs_fn vs[GCONV_BINARY_COUNT];
    void (*clamp)(float *y, int64_t n, float lo, float hi); /* NaN-preserving, in place */
    /* pooling rows: y[o] for o < n from columns 2o..2o+2 of rows r0..r2 (pool.c) */
    void (*max_3x3s2)(const float *r0, const float *r1, const float *r2, float *y, int64_t n);
    void (*avg_3x3s2)(const float *r0, const float *r1, const float *r2, float *y, int64_t n, float divisor);
} gconv_eltwise_loops;

extern const gconv_eltwise_loops gconv_eltwise_loops_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const gconv_eltwise_loops gconv_eltwise_loops_avx2;
#endif

/* The ISA the operators' loops use: the CPU's widest, capped by GCONV_ISA (read once per process). */
gconv_isa gconv_ops_isa(void);

/* The widest table this CPU runs (AVX2 where available; the memory-bound loops gain nothing from 512 bits). */
const gconv_eltwise_loops *gconv_ops_eltwise_loops(void);

/* Cells of an average-pool window along one axis, torch's divisor: the window clipped to the
 * padded input (count_include_pad) or to the input; `start` is its first position (may be negative). */
static inline int64_t gconv_ops_avg_extent(int64_t start, int64_t kernel, int64_t size, int64_t pad_end,
                                           int include_pad) {
    int64_t end = start + kernel;
    if (include_pad) {
        if (end > size + pad_end) end = size + pad_end;
        return end - start;
    }
    if (end > size) end = size;
    if (start < 0) start = 0;
    return end - start;
}

/* ---- 3x3 stride-2 pooling over whole output rows, borders included (pool_avx512.c) ----
 * Output rows [oy_begin, oy_end) of `planes` consecutive planes; pads of at most 1 (torch allows no more for a
 * 3x3 window), so every window holds a cell of the input. Taps are visited in torch's order (ky,
 * then kx): max keeps the first of equal values (which zero, -0 or +0) and the last NaN; avg sums
 * from +0 and divides by the window's cells as gconv_ops_avg_extent counts them. */
typedef struct {
    int64_t in_h, in_w, out_h, out_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int count_include_pad; /* avg */
} gconv_pool_3x3s2_geom;
typedef void (*gconv_pool_3x3s2_fn)(const gconv_pool_3x3s2_geom *g, int64_t planes, const float *x, float *y,
                                    int64_t oy_begin, int64_t oy_end);
#if defined(__x86_64__) || defined(__i386__)
void gconv_f32_maxpool_3x3s2__avx512(const gconv_pool_3x3s2_geom *g, int64_t planes, const float *x, float *y,
                                     int64_t oy_begin, int64_t oy_end);
void gconv_f32_avgpool_3x3s2__avx512(const gconv_pool_3x3s2_geom *g, int64_t planes, const float *x, float *y,
                                     int64_t oy_begin, int64_t oy_end);
#endif

/* max that propagates NaN from either side, as torch's max pooling and
 * torch.maximum do (a NaN already in `acc` stays; a NaN in `v` replaces it). */
static inline float gconv_ops_max_nan(float acc, float v) { return (v > acc || v != v) ? v : acc; }

#endif
