/* The planned-model executor: checks every tensor reference, then runs the steps in order. */
#include <time.h>

#include "gconv_graph.h"
#include "../common/internal.h"

static gconv_status resolve(const gconv_tensor_ref *ref, const gconv_tensor_shape *shape, float *const *buffers,
                            const int64_t *buffer_floats, size_t n_buffers, size_t step, const char *what,
                            float **ptr) {
    int64_t numel, end;
    gconv_status st = gconv_tensor_numel(shape, &numel);
    if (st) return gconv_fail(st, "step %zu: %s has an invalid shape", step, what);
    if (ref->buffer < 0 || (size_t)ref->buffer >= n_buffers)
        return gconv_fail(GCONV_EINVAL, "step %zu: %s refers to buffer %d of %zu", step, what, (int)ref->buffer,
                          n_buffers);
    if (ref->offset < 0 || !gconv_add_i64(ref->offset, numel, &end) || end > buffer_floats[ref->buffer])
        return gconv_fail(GCONV_EINVAL, "step %zu: %s [%lld, +%lld) lies outside its buffer of %lld floats", step,
                          what, (long long)ref->offset, (long long)numel, (long long)buffer_floats[ref->buffer]);
    if (numel > 0 && !buffers[ref->buffer])
        return gconv_fail(GCONV_EINVAL, "step %zu: %s is in a NULL buffer", step, what);
    *ptr = buffers[ref->buffer] ? buffers[ref->buffer] + ref->offset : NULL;
    return GCONV_OK;
}

/* A conv step's tensors against its plan: the plan reads c_in channels and writes c_out for each of
 * x's batch items, whatever the shapes say, so they must agree for the references' checks to hold. */
static gconv_status check_conv_shapes(const gconv_step *s, size_t i) {
    /* conv_dw: the 1x1 reads x, the depthwise conv writes y */
    const gconv_conv_desc *first = gconv_conv_plan_desc(s->conv);
    const gconv_conv_desc *last = gconv_conv_plan_desc(s->kind == GCONV_STEP_CONV_DW ? s->conv2 : s->conv);
    if (s->x_shape.c != first->c_in || s->y_shape.c != last->c_out)
        return gconv_fail(GCONV_EINVAL, "step %zu: the tensors have %lld and %lld channels, its plan %lld and %lld", i,
                          (long long)s->x_shape.c, (long long)s->y_shape.c, (long long)first->c_in,
                          (long long)last->c_out);
    if (s->y_shape.n != s->x_shape.n)
        return gconv_fail(GCONV_EINVAL, "step %zu: the output's batch %lld differs from the input's %lld", i,
                          (long long)s->y_shape.n, (long long)s->x_shape.n);
    return GCONV_OK;
}

static gconv_status run_step(const gconv_step *s, size_t i, float *x, float *x2, float *y, void *workspace,
                             size_t workspace_bytes, int num_threads) {
    const gconv_tensor_shape *xs = &s->x_shape, *ys = &s->y_shape;
    switch (s->kind) {
    case GCONV_STEP_CONV: {
        if (!s->conv) return gconv_fail(GCONV_EINVAL, "step %zu: conv without a plan", i);
        gconv_conv_geom g = {.batch = xs->n, .in_h = xs->h, .in_w = xs->w, .out_h = ys->h, .out_w = ys->w};
        if (x2 && (s->x2_shape.n != ys->n || s->x2_shape.c != ys->c || s->x2_shape.h != ys->h ||
                   s->x2_shape.w != ys->w))
            return gconv_fail(GCONV_EINVAL, "step %zu: the residual's shape differs from the output's", i);
        return gconv_conv_plan_run_residual(s->conv, &g, x, x2, y, workspace, workspace_bytes, num_threads);
    }
    case GCONV_STEP_CONV_DW: {
        const gconv_conv_geom g = {.batch = xs->n, .in_h = xs->h, .in_w = xs->w, .out_h = ys->h, .out_w = ys->w};
        return gconv_conv_plan_run_pw_dw(s->conv, s->conv2, &g, x, y, workspace, workspace_bytes, num_threads);
    }
    case GCONV_STEP_DECONV:
        if (!s->deconv || !s->deconv_run) return gconv_fail(GCONV_EINVAL, "step %zu: deconv without a plan", i);
        return s->deconv_run(s->deconv, xs, x, ys, y, workspace, workspace_bytes, num_threads);
    case GCONV_STEP_POOL:
        return gconv_pool2d(&s->pool, xs, x, y, num_threads);
    case GCONV_STEP_GLOBAL_AVGPOOL:
        return gconv_global_avgpool(xs, x, y, num_threads);
    case GCONV_STEP_SHUFFLE:
        return gconv_channel_shuffle(xs, s->groups, x, y, num_threads);
    case GCONV_STEP_UNARY: {
        int64_t need = s->op == GCONV_UNARY_PRELU ? xs->c : s->op == GCONV_UNARY_AFFINE ? 2 * xs->c : 0;
        if (need && (!s->per_channel || s->per_channel_len < need))
            return gconv_fail(GCONV_EINVAL, "step %zu: needs %lld per-channel values, has %lld", i, (long long)need,
                              (long long)s->per_channel_len);
        return gconv_unary((gconv_unary_kind)s->op, xs, x, y, s->alpha, s->beta, s->per_channel, num_threads);
    }
    case GCONV_STEP_BINARY:
        return gconv_binary((gconv_binary_kind)s->op, xs, x, &s->x2_shape, x2, ys, y,
                            (gconv_unary_kind)s->activation, num_threads);
    case GCONV_STEP_COPY_CHANNELS:
        return gconv_copy_channels(xs, x, s->src_c0, s->count, s->dst_channels, y, s->dst_c0, num_threads);
    case GCONV_STEP_SOFTMAX:
        if (xs->h != 1 || xs->w != 1) return gconv_fail(GCONV_EINVAL, "step %zu: softmax needs (n, c, 1, 1)", i);
        return gconv_softmax(xs->n, xs->c, x, y);
    case GCONV_STEP_RESIZE:
        return gconv_resize(&s->resize, xs, x, ys->h, ys->w, y, num_threads);
    default:
        return gconv_fail(GCONV_EINVAL, "step %zu: unknown kind %d", i, (int)s->kind);
    }
}

/* The copy step writes a slice of a larger output, so its y reference covers the whole destination. */
static gconv_tensor_shape copy_destination(const gconv_step *s) {
    gconv_tensor_shape d = s->x_shape;
    d.c = s->dst_channels;
    return d;
}

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    const gconv_step *steps;
    size_t n_steps;
    float *const *buffers;
    void *workspace;
    size_t workspace_bytes;
    int num_threads;
    int64_t *step_ns;
} program_call;

static int step_threads(const gconv_step *s, int num_threads) {
    return s->threads > 0 && s->threads < num_threads ? s->threads : num_threads;
}

static int run_steps(void *arg) {
    const program_call *c = arg;
    for (size_t i = 0; i < c->n_steps; i++) {
        const gconv_step *s = &c->steps[i];
        float *const *buffers = c->buffers;
        float *x = buffers[s->x.buffer] ? buffers[s->x.buffer] + s->x.offset : NULL;
        float *y = buffers[s->y.buffer] ? buffers[s->y.buffer] + s->y.offset : NULL;
        float *x2 = s->x2.buffer >= 0 && buffers[s->x2.buffer] ? buffers[s->x2.buffer] + s->x2.offset : NULL;
        const int64_t t0 = c->step_ns ? monotonic_ns() : 0;
        gconv_status st = run_step(s, i, x, x2, y, c->workspace, c->workspace_bytes, step_threads(s, c->num_threads));
        if (c->step_ns) c->step_ns[i] += monotonic_ns() - t0;
        if (st) return st;
    }
    return GCONV_OK;
}

/* One team for the whole forward when two or more steps run parallel loops; with only one, that
 * step's own region costs the same. */
static int team_threads(const gconv_step *steps, size_t n_steps, int num_threads) {
    int widest = 1, parallel_steps = 0;
    for (size_t i = 0; i < n_steps; i++) {
        const int t = step_threads(&steps[i], num_threads);
        if (t > 1) parallel_steps++;
        if (t > widest) widest = t;
    }
    return parallel_steps >= 2 ? widest : 1;
}

gconv_status gconv_program_run(const gconv_step *steps, size_t n_steps, float *const *buffers,
                               const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                               size_t workspace_bytes, int num_threads) {
    return gconv_program_run_timed(steps, n_steps, buffers, buffer_floats, n_buffers, workspace, workspace_bytes,
                                   num_threads, NULL);
}

gconv_status gconv_program_run_timed(const gconv_step *steps, size_t n_steps, float *const *buffers,
                                     const int64_t *buffer_floats, size_t n_buffers, void *workspace,
                                     size_t workspace_bytes, int num_threads, int64_t *step_ns) {
    GCONV_FPENV_SCOPE();
    if (!steps && n_steps) return gconv_fail(GCONV_EINVAL, "steps must not be NULL");
    if (!buffers || !buffer_floats) return gconv_fail(GCONV_EINVAL, "buffers must not be NULL");
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive");
    for (size_t i = 0; i < n_buffers; i++)
        if (buffer_floats[i] < 0) return gconv_fail(GCONV_EINVAL, "buffer %zu has a negative size", i);
    /* Check every reference before running anything: a bad plan fails without side effects. */
    for (size_t i = 0; i < n_steps; i++) {
        const gconv_step *s = &steps[i];
        float *p;
        if (s->threads < 0) return gconv_fail(GCONV_EINVAL, "step %zu: threads must be >= 0, got %d", i, (int)s->threads);
        gconv_tensor_shape ydst = s->kind == GCONV_STEP_COPY_CHANNELS ? copy_destination(s) : s->y_shape;
        gconv_status st = resolve(&s->x, &s->x_shape, buffers, buffer_floats, n_buffers, i, "input", &p);
        if (!st && s->kind == GCONV_STEP_CONV_DW && (!s->conv || !s->conv2))
            st = gconv_fail(GCONV_EINVAL, "step %zu: conv_dw without its two plans", i);
        if (!st && (s->kind == GCONV_STEP_CONV || s->kind == GCONV_STEP_CONV_DW) && s->conv) st = check_conv_shapes(s, i);
        if (!st) st = resolve(&s->y, &ydst, buffers, buffer_floats, n_buffers, i, "output", &p);
        if (!st && s->x2.buffer >= 0)
            st = resolve(&s->x2, &s->x2_shape, buffers, buffer_floats, n_buffers, i, "second input", &p);
        if (st) return st;
    }
    program_call call = {steps, n_steps, buffers, workspace, workspace_bytes, num_threads, step_ns};
    return (gconv_status)gconv_team_run(team_threads(steps, n_steps, num_threads), run_steps, &call);
}
