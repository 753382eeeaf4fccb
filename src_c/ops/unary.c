/* Element-wise unary operators (activations, inference BatchNorm) with torch's
 * formulas and NaN behaviour.
 *
 * The loops take no restrict: x == y (in place) is allowed, and GCC's runtime
 * overlap check accepts equal pointers, so both forms run vectorized. The
 * tensor is cut into chunks of GCONV_OPS_CHUNK floats; a chunk can span planes,
 * so per-channel kinds walk it plane segment by plane segment. */
#include "ops_internal.h"

#include <string.h>

/* Every kind's inner loop: y[i] = f(x[i]) for i < n, with the kind's two
 * scalar parameters (for per-channel kinds, the channel's values). */
typedef void (*unary_loop_fn)(const float *x, float *y, int64_t n, float p, float q);

#define UNARY_LOOP(name, expr)                                                                \
    static void name(const float *x, float *y, int64_t n, float p, float q) {                 \
        (void)p;                                                                              \
        (void)q;                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                     \
            const float v = x[i];                                                             \
            y[i] = (expr);                                                                    \
        }                                                                                     \
    }

/* Clamps written as compare-selects so that NaN fails every comparison and
 * passes through, as torch.clamp does. */
static inline float clamp_keep_nan(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* torch's hardswish, x * min(max(x + 3, 0), 6) / 6, with its operation order. */
static inline float hardswish1(float v) { return v * clamp_keep_nan(v + 3.0f, 0.0f, 6.0f) / 6.0f; }

UNARY_LOOP(loop_relu, v < 0.0f ? 0.0f : v)
UNARY_LOOP(loop_relu6, clamp_keep_nan(v, 0.0f, 6.0f))
UNARY_LOOP(loop_clip, clamp_keep_nan(v, p, q))
UNARY_LOOP(loop_hardswish, hardswish1(v))
/* torch's Hardsigmoid (alpha 1/6, beta 1/2) is min(max(x + 3, 0), 6) / 6; dividing before clamping
 * to [0, 1] gives the same floats (t/6 for t in [0, 6], exact 0 and 1 outside) and keeps the
 * division out of the selects, so the loop vectorizes. */
UNARY_LOOP(loop_hardsigmoid_torch, clamp_keep_nan((v + 3.0f) / 6.0f, 0.0f, 1.0f))
UNARY_LOOP(loop_hardsigmoid, clamp_keep_nan(p * v + q, 0.0f, 1.0f))
UNARY_LOOP(loop_sigmoid, 1.0f / (1.0f + expf(-v)))

/* PReLU (p per channel) and LeakyReLU: x > 0 ? x : x * p. GCC keeps a multiply
 * that only one side of a select needs inside a branch (it could raise an FP
 * exception), which blocks vectorization; FP exception flags mean nothing
 * here, so this loop tells GCC so. (The attribute breaks vectorization of
 * loops that inline other functions, hence only here, written out.) */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
static void loop_slope(const float *x, float *y, int64_t n, float p, float q) {
    (void)q;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        y[i] = v > 0.0f ? v : v * p;
    }
}
UNARY_LOOP(loop_affine, v * p + q)
UNARY_LOOP(loop_tanh, tanhf(v))
UNARY_LOOP(loop_silu, v / (1.0f + expf(-v)))
/* torch's elu: x <= 0 ? expm1(x) * alpha : x; NaN takes the second branch and stays NaN. */
UNARY_LOOP(loop_elu, v <= 0.0f ? expm1f(v) * p : v)

static void loop_identity(const float *x, float *y, int64_t n, float p, float q) {
    (void)p;
    (void)q;
    if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
}

/* Cost of one float relative to a copy: transcendental kinds go parallel on smaller tensors. */
static int64_t unary_cost(gconv_unary_kind kind) {
    switch (kind) {
    case GCONV_UNARY_SIGMOID:
    case GCONV_UNARY_TANH:
    case GCONV_UNARY_SILU:
    case GCONV_UNARY_ELU: return 16;
    default: return 1;
    }
}

gconv_status gconv_unary(gconv_unary_kind kind, const gconv_tensor_shape *s, const float *x, float *y, float alpha,
                         float beta, const float *per_channel, int num_threads) {
    int64_t count;
    gconv_status st;
    if ((unsigned)kind >= GCONV_UNARY_COUNT) return gconv_fail(GCONV_EINVAL, "kind: unknown unary kind %d", (int)kind);
    if ((st = gconv_ops_check_shape(s, "x", &count))) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    const int per_ch = kind == GCONV_UNARY_PRELU || kind == GCONV_UNARY_AFFINE;
    if (per_ch && !per_channel)
        return gconv_fail(GCONV_EINVAL, "per_channel: %s needs per-channel values, got NULL",
                          kind == GCONV_UNARY_PRELU ? "PReLU" : "affine");
    if (kind == GCONV_UNARY_CLIP && (isnan(alpha) || isnan(beta)))
        return gconv_fail(GCONV_EINVAL, "clip: min (alpha) and max (beta) must not be NaN");
    if (count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");

    unary_loop_fn loop = NULL;
    switch (kind) {
    case GCONV_UNARY_IDENTITY: loop = loop_identity; break;
    case GCONV_UNARY_RELU: loop = loop_relu; break;
    case GCONV_UNARY_RELU6: loop = loop_relu6; break;
    case GCONV_UNARY_CLIP: loop = loop_clip; break;
    case GCONV_UNARY_HARDSWISH: loop = loop_hardswish; break;
    case GCONV_UNARY_HARDSIGMOID:
        loop = (alpha == 1.0f / 6.0f && beta == 0.5f) ? loop_hardsigmoid_torch : loop_hardsigmoid;
        break;
    case GCONV_UNARY_SIGMOID: loop = loop_sigmoid; break;
    case GCONV_UNARY_PRELU: loop = loop_slope; break;
    case GCONV_UNARY_AFFINE: loop = loop_affine; break;
    case GCONV_UNARY_LEAKY_RELU: loop = loop_slope; break;
    case GCONV_UNARY_TANH: loop = loop_tanh; break;
    case GCONV_UNARY_SILU: loop = loop_silu; break;
    case GCONV_UNARY_ELU: loop = loop_elu; break;
    default: return gconv_fail(GCONV_EINVAL, "kind: unknown unary kind %d", (int)kind);
    }
    if (x == y && kind == GCONV_UNARY_IDENTITY) return GCONV_OK;

    const int64_t hw = s->h * s->w, channels = s->c;
    const int64_t items = (count + GCONV_OPS_CHUNK - 1) / GCONV_OPS_CHUNK;
    int64_t work;
    if (!gconv_mul_i64(count, unary_cost(kind), &work)) work = INT64_MAX;
    const int threads = gconv_ops_threads(num_threads, items, work);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (int64_t item = 0; item < items; item++) {
        const int64_t begin = item * GCONV_OPS_CHUNK, end = gconv_ops_min_i64(begin + GCONV_OPS_CHUNK, count);
        if (!per_ch) {
            loop(x + begin, y + begin, end - begin, alpha, beta);
            continue;
        }
        for (int64_t i = begin; i < end;) {
            const int64_t plane = i / hw, seg_end = gconv_ops_min_i64(end, (plane + 1) * hw);
            const int64_t c = plane % channels;
            const float p = per_channel[c], q = kind == GCONV_UNARY_AFFINE ? per_channel[channels + c] : 0.0f;
            loop(x + i, y + i, seg_end - i, p, q);
            i = seg_end;
        }
    }
    (void)threads;
    return GCONV_OK;
}
