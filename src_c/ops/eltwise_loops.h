/* The element-wise inner loops, written once and compiled once per ISA: each
 * eltwise_<isa>.c sets its target and includes this file with ELTWISE_TABLE
 * naming its table. Plain C that GCC auto-vectorizes at whatever width the
 * file's target allows; no FMA in any target, so every ISA rounds alike and
 * results do not depend on the machine.
 *
 * No restrict: y == x (and, in binary ops, y == a or y == b) is allowed, and
 * GCC's runtime overlap check accepts equal pointers and keeps the vector loop. */
#include "ops_internal.h"

#include <string.h>

#ifndef ELTWISE_TABLE
#error "define ELTWISE_TABLE before including eltwise_loops.h"
#endif

/* Clamps written as compare-selects so that NaN fails every comparison and
 * passes through, as torch.clamp does. */
static inline float clamp_keep_nan(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* GCC keeps an FP operation that only one side of a select needs inside a
 * branch (it could raise an FP exception), which blocks vectorization. FP
 * exception flags mean nothing here, so some loops tell GCC so. The attribute
 * must sit on every function inlined into such a loop (mixed options stop
 * the vectorizer). */
#if defined(__GNUC__) && !defined(__clang__)
#define GCONV_FP_NO_TRAP __attribute__((optimize("no-trapping-math")))
#else
#define GCONV_FP_NO_TRAP
#endif

/* e^x, branch-free so that loops calling it vectorize: Cephes' expf (range
 * reduction by a two-part ln 2, degree-6 polynomial, ~1 ulp). The power of two
 * is applied as two factors, so results that overflow or fall into the
 * denormals round once, correctly. NaN propagates. */
GCONV_FP_NO_TRAP static inline float exp_branchless(float x) {
    float xc = x < -104.0f ? -104.0f : x; /* below: e^x rounds to 0 */
    xc = xc > 89.0f ? 89.0f : xc;          /* above: e^x overflows to inf */
    /* round(xc / ln 2) by the 1.5 * 2^23 trick (no rounding instruction at baseline x86-64) */
    float fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    fn = fn == fn ? fn : 0.0f; /* keep NaN out of the integer conversion; r carries it */
    const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const int32_t n = (int32_t)fn, n1 = n / 2, n2 = n - n1; /* each within [-75, 65] */
    const uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return (p * s1) * s2;
}

#define ELTWISE_UNARY_ATTR(attr, name, expr)                                                  \
    static attr void name(const float *x, float *y, int64_t n, float p, float q) {                 \
        (void)p;                                                                              \
        (void)q;                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                     \
            const float v = x[i];                                                             \
            y[i] = (expr);                                                                    \
        }                                                                                     \
    }
#define ELTWISE_UNARY(name, expr) ELTWISE_UNARY_ATTR(, name, expr)

ELTWISE_UNARY(u_relu, v < 0.0f ? 0.0f : v)
ELTWISE_UNARY(u_clip, clamp_keep_nan(v, p, q)) /* ReLU6 is clip(0, 6) */
/* torch's hardswish, x * min(max(x + 3, 0), 6) / 6, in its operation order */
ELTWISE_UNARY(u_hardswish, v * clamp_keep_nan(v + 3.0f, 0.0f, 6.0f) / 6.0f)
/* torch's Hardsigmoid (alpha 1/6, beta 1/2) is min(max(x + 3, 0), 6) / 6; dividing before clamping
 * to [0, 1] gives the same floats (t/6 for t in [0, 6], exact 0 and 1 outside) and keeps the
 * division out of the selects, so the loop vectorizes. */
ELTWISE_UNARY(u_hardsigmoid_torch, clamp_keep_nan((v + 3.0f) / 6.0f, 0.0f, 1.0f))
ELTWISE_UNARY(u_hardsigmoid, clamp_keep_nan(p * v + q, 0.0f, 1.0f))
ELTWISE_UNARY(u_affine, v * p + q)
/* torch's formulas: sigmoid 1 / (1 + e^-x), silu x / (1 + e^-x) */
ELTWISE_UNARY_ATTR(GCONV_FP_NO_TRAP, u_sigmoid, 1.0f / (1.0f + exp_branchless(-v)))
ELTWISE_UNARY_ATTR(GCONV_FP_NO_TRAP, u_silu, v / (1.0f + exp_branchless(-v)))

/* PReLU (p per channel) and LeakyReLU: x > 0 ? x : x * p. */
static GCONV_FP_NO_TRAP void u_slope(const float *x, float *y, int64_t n, float p, float q) {
    (void)q;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        y[i] = v > 0.0f ? v : v * p;
    }
}

/* torch.maximum / torch.minimum: NaN if either side is NaN. Selects only, so GCC vectorizes them. */
static inline float max_nan2(float p, float q) {
    const float m = p > q ? p : q;
    return p != p ? p : (q != q ? q : m);
}
static inline float min_nan2(float p, float q) {
    const float m = p < q ? p : q;
    return p != p ? p : (q != q ? q : m);
}

#define ELTWISE_BINARY(name, expr)                                                                \
    static void name##_vv(const float *a, const float *b, float *y, int64_t n) {                  \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float p = a[i], q = b[i];                                                       \
            y[i] = (expr);                                                                        \
        }                                                                                         \
    }                                                                                             \
    static void name##_sv(float p, const float *b, float *y, int64_t n) {                         \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float q = b[i];                                                                 \
            y[i] = (expr);                                                                        \
        }                                                                                         \
    }                                                                                             \
    static void name##_vs(const float *a, float q, float *y, int64_t n) {                         \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float p = a[i];                                                                 \
            y[i] = (expr);                                                                        \
        }                                                                                         \
    }

ELTWISE_BINARY(b_add, p + q)
ELTWISE_BINARY(b_sub, p - q)
ELTWISE_BINARY(b_mul, p * q)
ELTWISE_BINARY(b_div, p / q)
ELTWISE_BINARY(b_max, max_nan2(p, q))
ELTWISE_BINARY(b_min, min_nan2(p, q))

/* ReLU / ReLU6 after a binary op, on the block just written (still in L1); NaN passes. */
static void clamp_block(float *y, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) y[i] = clamp_keep_nan(y[i], lo, hi);
}

/* Pooling rows (pool.c): 3x3 windows at stride 2 wholly inside the input (ShuffleNet's and
 * ResNet's stem max pool, ShuffleNet's shortcut average pool). y[o] takes columns 2o..2o+2 of rows
 * r0..r2, the taps in torch's order; the average sums from 0 as torch does. Compiled plain, they
 * ran at 2.4-3.4 ns an output (SSE2 and strided scalar loads); vectorized, the stride-2 columns
 * come from pairs of loads split into even and odd lanes. Not GCONV_FP_NO_TRAP: with it GCC left
 * the max loop scalar ("no vectype"). */
static void pool_max_3x3s2(const float *r0, const float *r1, const float *r2, float *y, int64_t n) {
    for (int64_t o = 0; o < n; o++) {
        const int64_t i = 2 * o;
        float m = r0[i];
        m = gconv_ops_max_nan(m, r0[i + 1]);
        m = gconv_ops_max_nan(m, r0[i + 2]);
        m = gconv_ops_max_nan(m, r1[i]);
        m = gconv_ops_max_nan(m, r1[i + 1]);
        m = gconv_ops_max_nan(m, r1[i + 2]);
        m = gconv_ops_max_nan(m, r2[i]);
        m = gconv_ops_max_nan(m, r2[i + 1]);
        m = gconv_ops_max_nan(m, r2[i + 2]);
        y[o] = m;
    }
}

static void pool_avg_3x3s2(const float *r0, const float *r1, const float *r2, float *y, int64_t n, float divisor) {
    for (int64_t o = 0; o < n; o++) {
        const int64_t i = 2 * o;
        float s = 0.0f;
        s += r0[i];
        s += r0[i + 1];
        s += r0[i + 2];
        s += r1[i];
        s += r1[i + 1];
        s += r1[i + 2];
        s += r2[i];
        s += r2[i + 1];
        s += r2[i + 2];
        y[o] = s / divisor;
    }
}

const gconv_eltwise_loops ELTWISE_TABLE = {
    .relu = u_relu,
    .clip = u_clip,
    .hardswish = u_hardswish,
    .hardsigmoid_torch = u_hardsigmoid_torch,
    .hardsigmoid = u_hardsigmoid,
    .affine = u_affine,
    .sigmoid = u_sigmoid,
    .silu = u_silu,
    .slope = u_slope,
    .vv = {b_add_vv, b_sub_vv, b_mul_vv, b_div_vv, b_max_vv, b_min_vv},
    .sv = {b_add_sv, b_sub_sv, b_mul_sv, b_div_sv, b_max_sv, b_min_sv},
    .vs = {b_add_vs, b_sub_vs, b_mul_vs, b_div_vs, b_max_vs, b_min_vs},
    .clamp = clamp_block,
    .max_3x3s2 = pool_max_3x3s2,
    .avg_3x3s2 = pool_avg_3x3s2,
};
