/* Internal helpers shared by the operator and the kernels. */
#ifndef GCONV_INTERNAL_H
#define GCONV_INTERNAL_H

#include "fpenv.h"
#include "gconv.h"
#include "team.h"

#include <stdbool.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GCONV_RESTRICT __restrict__
#define GCONV_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define GCONV_RESTRICT
#define GCONV_UNLIKELY(x) (x)
#endif

/* An OpenMP directive inside a statement list, gone in a build without OpenMP (where a bare #pragma
 * omp would only draw -Wunknown-pragmas). */
#ifdef _OPENMP
#define GCONV_OMP(directive) _Pragma(directive)
#else
#define GCONV_OMP(directive)
#endif

/* Largest tile any microkernel uses; scratch and packing are sized from the table. */
#define GCONV_ALIGN 64

/* Checked 64-bit arithmetic: return false on overflow instead of wrapping. */
static inline bool gconv_mul_i64(int64_t a, int64_t b, int64_t *r) {
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool gconv_add_i64(int64_t a, int64_t b, int64_t *r) {
    return !__builtin_add_overflow(a, b, r);
}

static inline float gconv_clampf(float v, const gconv_minmax *c) {
    /* Written so that NaN propagates like PyTorch's (no clamp applied to NaN). */
    v = v < c->min ? c->min : v;
    return v > c->max ? c->max : v;
}

/* bytes rounded up to whole GCONV_ALIGN units: what aligned_alloc takes, and the size of each
 * thread's slice of a workspace, so that every slice starts aligned. */
static inline size_t gconv_align_bytes(size_t bytes) {
    return (bytes + GCONV_ALIGN - 1) / GCONV_ALIGN * GCONV_ALIGN;
}

/* Packed weights and plan buffers: GCONV_ALIGN-aligned, never zero bytes. Release with free(). */
static inline void *gconv_aligned_floats(size_t count) {
    const size_t bytes = gconv_align_bytes(count * sizeof(float));
    return aligned_alloc(GCONV_ALIGN, bytes ? bytes : GCONV_ALIGN);
}

/* Records a message for gconv_last_error(); returns code for tail calls. */
gconv_status gconv_fail(gconv_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The fields a convolution and a transposed convolution describe alike. */
typedef struct {
    int64_t c_in, c_out, groups;
    int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    gconv_activation activation;
    gconv_minmax clamp;
} gconv_window;

/* The window of a gconv_conv_desc or a gconv_deconv_desc (same field names). */
#define GCONV_WINDOW_OF(d)                                                                                   \
    {(d)->c_in,       (d)->c_out,    (d)->groups,   (d)->kernel_h,   (d)->kernel_w, (d)->stride_h, (d)->stride_w, \
     (d)->dilation_h, (d)->dilation_w, (d)->pad_top, (d)->pad_bottom, (d)->pad_left, (d)->pad_right,             \
     (d)->activation, (d)->clamp}

/* Checks w (desc_check.c): positive channels, groups dividing both, positive kernel, stride and
 * dilation, non-negative padding, a known activation, min <= max, and a dilated kernel extent that
 * fits in 64 bits. */
gconv_status gconv_window_check(const gconv_window *w);

/* ---- microkernels (declared here, listed in kernels/table.c) ------------- */
void gconv_f32_gemm_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                               size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                 size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_8x48__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                 size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_8x48__avx512_prfm(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                      size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);

/* One-pixel GEMM tiles (nc == 1) for the same panels as the wide kernels of their ISA. */
void gconv_f32_gemm_4x1__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_6x1__avx2(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                              size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_8x1__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
/* Few-pixel tiles (nc <= 4): the columns past a GEMM's last whole vector; each column is its
 * ISA's one-pixel sum. */
void gconv_f32_gemm_4x4__scalar(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);
void gconv_f32_gemm_8x4__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp);

void gconv_f32_dwconv_generic__scalar(const gconv_dw_geom *g, const float *in, const float *w,
                                      float *out, int64_t oy_begin, int64_t oy_end,
                                      const gconv_minmax *clamp);
void gconv_f32_dwconv_generic__avx2(const gconv_dw_geom *g, const float *in, const float *w,
                                    float *out, int64_t oy_begin, int64_t oy_end,
                                    const gconv_minmax *clamp);
void gconv_f32_dwconv_generic__avx512(const gconv_dw_geom *g, const float *in, const float *w,
                                      float *out, int64_t oy_begin, int64_t oy_end,
                                      const gconv_minmax *clamp);

/* Depthwise specializations (KxK, stride S; the stride-1 ones take any dilation).
 * Called with another geometry they defer to the generic kernel of their ISA. */
void gconv_f32_dwconv_3x3s1__avx2(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s1_mc__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s2__avx2(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s2_mc__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s1__avx2(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s1_mc__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_7x7s1__avx2(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_7x7s1_mc__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s2__avx2(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s2_mc__avx2(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s1__avx512(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s1_mc__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s2__avx512(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_3x3s2_mc__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s1__avx512(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s1_mc__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_7x7s1__avx512(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_7x7s1_mc__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s2__avx512(const gconv_dw_geom *g, const float *in, const float *w,
    float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_f32_dwconv_5x5s2_mc__avx512(const gconv_dw_geom *g, size_t channels, const float *in,
    size_t in_stride, const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);

/* Global depthwise conv (GDC): out[c] = clamp(w[c][0] + dot(in + c*in_stride, w[c] + 1))
 * over `taps` floats, c < channels; w rows are 1 + taps floats (the dwconv packing). */
void gconv_f32_gdc__scalar(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                           float *out, const gconv_minmax *clamp);
void gconv_f32_gdc__avx2(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                         float *out, const gconv_minmax *clamp);
void gconv_f32_gdc__avx512(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                           float *out, const gconv_minmax *clamp);

/* Output channels per call of the generic direct grouped-conv kernels (a table entry's mr). */
#define GCONV_GCONV_OC 4
void gconv_f32_gconv_4oc__scalar(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp);
void gconv_f32_gconv_4oc__avx2(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                               const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                               const gconv_minmax *clamp);
void gconv_f32_gconv_4oc__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                 const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                 const gconv_minmax *clamp);
/* The same contract, two output rows per pass (stride 1, dilation_h 1; else the 4oc kernel). */
void gconv_f32_gconv_4oc2r__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                   const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                   const gconv_minmax *clamp);
/* 3x3 stride 2 (else gconv_gconv_blocked_scalar), 8 output channels per call (packed 8 wide): first layers. */
void gconv_f32_gconv_3x3s2_8oc__avx2(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                     const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                     const gconv_minmax *clamp);
void gconv_f32_gconv_3x3s2_8oc__avx512(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                                        const float *w, float *out, int64_t oy_begin, int64_t oy_end,
                                        const gconv_minmax *clamp);
/* Of the nv rows row0 + v * pitch (pitch >= 1), those inside [0, height) are v in [*lo, *hi).
 * Counted, not divided, with a dilation: the depthwise kernels ask this for each border pass of
 * each channel (nv is at most a pass's rows plus the kernel's, so the loops are short). With the
 * divisions, and one more per channel for the rows of each residue (gconv_rows_per_residue), 3x3
 * dilation 2 took 4% longer on 256x28x28 and 11% on 64x56x56 with AVX-512, 22% and 14% with AVX2
 * (kernel alone, min of 3000 calls). */
static inline void gconv_rows_inside(int64_t row0, int64_t pitch, int64_t nv, int64_t height, int64_t *lo,
                                     int64_t *hi) {
    int64_t v = 0, w = nv;
    if (pitch == 1) {
        v = -row0 < 0 ? 0 : -row0 > nv ? nv : -row0;
        w = height - row0 < v ? v : height - row0 > nv ? nv : height - row0;
    } else {
        while (v < nv && row0 + v * pitch < 0) v++;
        while (w > v && row0 + (w - 1) * pitch >= height) w--;
    }
    *lo = v;
    *hi = w;
}

/* v clipped to [lo, hi] (lo <= hi). */
static inline int64_t gconv_clamp_i64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The input rows [*r0, *r1) that output rows [oy0, oy1) (oy0 < oy1) of a conv read: rows
 * oy * stride - pad_top + [0, extent) for each, extent = (kernel_h - 1) * dilation_h + 1, clipped
 * to [0, height). */
static inline void gconv_rows_read(int64_t oy0, int64_t oy1, int64_t stride, int64_t pad_top, int64_t extent,
                                   int64_t height, int64_t *r0, int64_t *r1) {
    *r0 = gconv_clamp_i64(oy0 * stride - pad_top, 0, height);
    *r1 = gconv_clamp_i64((oy1 - 1) * stride - pad_top + extent, 0, height);
}

/* Of `rows` output rows taken every step-th (a stride-1 depthwise pass with dilation `step`), residue
 * res < step has base + (res < extra): divided once per call, not per channel, and not at all in
 * the usual step of 1 (wide planes ask per channel and strip). */
typedef struct {
    int64_t base, extra;
} gconv_residue_rows;

static inline gconv_residue_rows gconv_rows_per_residue(int64_t rows, int64_t step) {
    const gconv_residue_rows r = {step == 1 ? rows : rows / step, step == 1 ? 0 : rows % step};
    return r;
}

/* The pass height that splits `rows` (>= 1) into equal passes of at most `most` rows (17 rows, at
 * most 7: three passes of 6, not 7 + 7 + 3): the narrow depthwise paths reload K - 1 input rows
 * per pass, and a short last pass leaves FMA latency exposed. */
static inline int64_t gconv_equal_pass_rows(int64_t rows, int64_t most) {
    const int64_t passes = (rows + most - 1) / most;
    return (rows + passes - 1) / passes;
}

/* A kxk kernel at stride s (both axes), dilation 1: what a specialized kernel's fast path needs. */
static inline int gconv_geom_is(const gconv_dw_geom *g, int64_t k, int64_t s) {
    return g->kernel_h == k && g->kernel_w == k && g->stride_h == s && g->stride_w == s && g->dilation_h == 1 &&
           g->dilation_w == 1;
}
/* Any geometry, up to `oc` output channels of panels packed `oc` wide (f32_gconv_4oc_scalar.c). */
void gconv_gconv_blocked_scalar(const gconv_dw_geom *g, size_t cin, size_t cout, size_t oc, const float *in,
                                const float *w, float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp);
void gconv_gconv_point_scalar(const gconv_dw_geom *g, size_t cin, size_t cout, const float *in,
                              const float *w, int64_t oy, int64_t ox, float acc[GCONV_GCONV_OC]);

void gconv_f32_vhswish__scalar(size_t n, float *x, float unused);
void gconv_f32_vhswish__avx2(size_t n, float *x, float unused);
void gconv_f32_vhswish__avx512(size_t n, float *x, float unused);
void gconv_f32_vprelu__scalar(size_t n, float *x, float slope);
void gconv_f32_vprelu__avx2(size_t n, float *x, float slope);
void gconv_f32_vprelu__avx512(size_t n, float *x, float slope);

/* Scalar pieces the SIMD kernels reuse for borders. */
float gconv_dw_point_scalar(const gconv_dw_geom *g, const float *in, const float *w,
                            int64_t oy, int64_t ox);

/* ---- reference --------------------------------------------------------- */
void gconv_conv2d_reference(const gconv_conv_desc *d, const gconv_conv_geom *g,
                            const float *x, const float *weight, const float *bias, float *y,
                            int num_threads);

#endif
