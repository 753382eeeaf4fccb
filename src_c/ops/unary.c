/* Element-wise unary operators (activations, inference BatchNorm) with torch's
 * formulas and NaN behaviour; the loops are in eltwise_loops.h (x == y allowed).
 * The tensor is cut into chunks of GCONV_OPS_CHUNK floats; a chunk can span
 * planes, so per-channel kinds walk it plane segment by plane segment. */
#include "ops_internal.h"

#include <string.h>

/* The kinds whose loops stay here: libm's tanhf and expm1f are accurate where a
 * short polynomial is not (tanh and expm1 near 0), and neither sits on a hot
 * path of the networks this library targets. The others come from the
 * per-ISA tables of eltwise_loops.h. */
static void loop_tanh(const float *x, float *y, int64_t n, float p, float q) {
    (void)p;
    (void)q;
    for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

/* torch's elu: x <= 0 ? expm1(x) * alpha : x; NaN takes the second branch and stays NaN. */
static void loop_elu(const float *x, float *y, int64_t n, float alpha, float q) {
    (void)q;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? expm1f(x[i]) * alpha : x[i];
}

/* Cost of one float relative to a copy: transcendental kinds go parallel on smaller tensors. */
static int64_t unary_cost(gconv_unary_kind kind) {
    switch (kind) {
    case GCONV_UNARY_SIGMOID:
    case GCONV_UNARY_SILU: return 4;
    case GCONV_UNARY_TANH:
    case GCONV_UNARY_ELU: return 16;
    default: return 1;
    }
}

typedef struct {
    gconv_unary_loop_fn loop;
    const float *x;
    float *y;
    int64_t count, hw, channels;
    float alpha, beta;
    const float *per_channel; /* PReLU's slopes, or affine's scales then shifts; NULL for the others */
    int affine;
} unary_loop;

static void unary_share(const void *ctx, int64_t first, int64_t last, int tid) {
    const unary_loop *l = ctx;
    (void)tid;
    for (int64_t item = first; item < last; item++) {
        const int64_t begin = item * GCONV_OPS_CHUNK, end = gconv_ops_min_i64(begin + GCONV_OPS_CHUNK, l->count);
        if (!l->per_channel) {
            l->loop(l->x + begin, l->y + begin, end - begin, l->alpha, l->beta);
            continue;
        }
        for (int64_t i = begin; i < end;) {
            const int64_t plane = i / l->hw, seg_end = gconv_ops_min_i64(end, (plane + 1) * l->hw);
            const int64_t c = plane % l->channels;
            const float p = l->per_channel[c], q = l->affine ? l->per_channel[l->channels + c] : 0.0f;
            l->loop(l->x + i, l->y + i, seg_end - i, p, q);
            i = seg_end;
        }
    }
}

gconv_status gconv_unary(gconv_unary_kind kind, const gconv_tensor_shape *s, const float *x, float *y, float alpha,
                         float beta, const float *per_channel, int num_threads) {
    GCONV_FPENV_SCOPE();
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

    if (kind == GCONV_UNARY_IDENTITY) {
        if (x != y) memcpy(y, x, (size_t)count * sizeof(float)); /* fits: checked against SIZE_MAX / 2 */
        return GCONV_OK;
    }
    const gconv_eltwise_loops *L = gconv_ops_eltwise_loops();
    gconv_unary_loop_fn loop = NULL;
    switch (kind) {
    case GCONV_UNARY_RELU: loop = L->relu; break;
    case GCONV_UNARY_RELU6: loop = L->clip, alpha = 0.0f, beta = 6.0f; break;
    case GCONV_UNARY_CLIP: loop = L->clip; break;
    case GCONV_UNARY_HARDSWISH: loop = L->hardswish; break;
    case GCONV_UNARY_HARDSIGMOID:
        loop = (alpha == 1.0f / 6.0f && beta == 0.5f) ? L->hardsigmoid_torch : L->hardsigmoid;
        break;
    case GCONV_UNARY_SIGMOID: loop = L->sigmoid; break;
    case GCONV_UNARY_PRELU: loop = L->slope; break;
    case GCONV_UNARY_AFFINE: loop = L->affine; break;
    case GCONV_UNARY_LEAKY_RELU: loop = L->slope; break;
    case GCONV_UNARY_TANH: loop = loop_tanh; break;
    case GCONV_UNARY_SILU: loop = L->silu; break;
    case GCONV_UNARY_ELU: loop = loop_elu; break;
    default: return gconv_fail(GCONV_EINVAL, "kind: unknown unary kind %d", (int)kind);
    }

    const int64_t hw = s->h * s->w, channels = s->c;
    const int64_t items = (count + GCONV_OPS_CHUNK - 1) / GCONV_OPS_CHUNK;
    int64_t work;
    if (!gconv_mul_i64(count, unary_cost(kind), &work)) work = INT64_MAX;
    const int threads = gconv_ops_threads(num_threads, items, work);
    const unary_loop ul = {loop, x, y, count, hw, channels, alpha, beta, per_ch ? per_channel : NULL,
                           kind == GCONV_UNARY_AFFINE};
    gconv_parallel_for(threads, items, unary_share, &ul);
    return GCONV_OK;
}
