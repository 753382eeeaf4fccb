/* Resize over H and W: nearest and bilinear, with ONNX's coordinate
 * transformations and nearest-rounding modes (in float, as ONNX Runtime
 * computes them) and torch's F.interpolate rules (in float, as torch computes
 * them). The two differ in rounding only, but a rounding step moves a nearest
 * pick by a pixel and a bilinear weight by ulp(src) * |x1 - x0|, so each
 * oracle gets its own arithmetic.
 *
 * An axis's source positions depend only on the output index, so each work
 * item first tabulates a chunk of output columns (indices, weights) on the
 * stack, then runs every row of its planes through the table. */
#include "ops_internal.h"

#include <string.h>

/* Output columns tabulated at once: 512 * 16 bytes stays well inside L1 and
 * inside a worker thread's stack. */
#define RESIZE_COLS 512

/* One axis: lengths, ONNX's scale (output/input), torch's ratio (input/output),
 * and whether the runtime being followed maps it one to one. */
typedef struct {
    int64_t in, out;
    float scale, ratio;
    int identity;
} resize_axis;

typedef struct {
    gconv_resize_mode mode;
    gconv_coord_mode coord;
    gconv_nearest_mode nearest;
    resize_axis h, w;
} resize_geom;

static int is_torch_coord(gconv_coord_mode c) {
    return c == GCONV_COORD_TORCH_NEAREST || c == GCONV_COORD_TORCH_HALF_PIXEL || c == GCONV_COORD_TORCH_ALIGN_CORNERS;
}

/* ONNX Resize's coordinate_transformation_mode, as ONNX Runtime evaluates it. */
static float onnx_source_coord(gconv_coord_mode coord, int64_t o, const resize_axis *a) {
    const float fo = (float)o;
    switch (coord) {
    case GCONV_COORD_HALF_PIXEL: return (fo + 0.5f) / a->scale - 0.5f;
    case GCONV_COORD_PYTORCH_HALF_PIXEL: return a->out > 1 ? (fo + 0.5f) / a->scale - 0.5f : 0.0f;
    case GCONV_COORD_ALIGN_CORNERS: return a->out == 1 ? 0.0f : fo * (float)(a->in - 1) / (float)(a->out - 1);
    case GCONV_COORD_TF_HALF_PIXEL_FOR_NN: return (fo + 0.5f) / a->scale;
    case GCONV_COORD_ASYMMETRIC:
    default: return fo / a->scale;
    }
}

/* Clamps a rounded float position to [0, in - 1] before converting it, so
 * that infinities from extreme scales never reach the integer conversion. */
static inline int64_t clamp_index(float r, int64_t in) {
    if (!(r > 0.0f)) return 0;
    if (r >= (float)(in - 1)) return in - 1;
    const int64_t i = (int64_t)r;
    return i < in - 1 ? i : in - 1;
}

static int64_t nearest_index(const resize_geom *g, const resize_axis *a, int64_t o) {
    if (a->identity) return o;
    if (g->coord == GCONV_COORD_TORCH_NEAREST) {
        /* torch's nearest_idx: an exact shortcut for 2x, else floor(o * ratio) in float. */
        if (a->out == 2 * a->in) return o >> 1;
        return clamp_index(floorf((float)o * a->ratio), a->in);
    }
    const float x = onnx_source_coord(g->coord, o, a);
    float r;
    switch (g->nearest) {
    case GCONV_NEAREST_ROUND_PREFER_FLOOR:
    case GCONV_NEAREST_ROUND_PREFER_CEIL: {
        /* A fractional part within 1e-6 of one half is a tie, as in ONNX Runtime: the float
         * coordinate of an exact tie such as 3.5 = 1 / (2/7) can come out as 3.4999998. */
        const float lo = floorf(x);
        if (fabsf((x - lo) - 0.5f) <= 1e-6f)
            r = g->nearest == GCONV_NEAREST_ROUND_PREFER_CEIL ? lo + 1.0f : lo;
        else
            r = roundf(x);
        break;
    }
    case GCONV_NEAREST_CEIL: r = ceilf(x); break;
    case GCONV_NEAREST_FLOOR:
    default: r = floorf(x); break;
    }
    return clamp_index(r, a->in);
}

/* Linear taps of output index o: v[i0] * w0 + v[i1] * w1. */
static void linear_taps(const resize_geom *g, const resize_axis *a, int64_t o, int64_t *i0, int64_t *i1, float *w0,
                        float *w1) {
    const int64_t last = a->in - 1;
    if (a->identity) {
        *i0 = *i1 = o;
        *w0 = 1.0f;
        *w1 = 0.0f;
        return;
    }
    if (is_torch_coord(g->coord)) {
        /* torch's compute_source_index_and_lambda, step by step. */
        /* torch's builds contract ratio * (o + 0.5) - 0.5 into one fused multiply-add; fmaf
         * rounds once the same way (a library call at baseline x86-64, once per row/column). */
        float src = g->coord == GCONV_COORD_TORCH_ALIGN_CORNERS ? a->ratio * (float)o
                                                                : fmaf(a->ratio, (float)o + 0.5f, -0.5f);
        if (!(src > 0.0f)) src = 0.0f; /* torch clamps below at 0; this also maps a NaN there */
        const float fl = floorf(src);
        const int64_t idx = fl >= (float)last ? last : (int64_t)fl;
        float lambda = src - (float)idx;
        lambda = lambda < 0.0f ? 0.0f : (lambda > 1.0f ? 1.0f : lambda);
        *i0 = idx;
        *i1 = idx < last ? idx + 1 : idx;
        *w0 = 1.0f - lambda;
        *w1 = lambda;
        return;
    }
    /* ONNX Runtime: clamp the coordinate into [0, in-1], then split it. */
    float x = onnx_source_coord(g->coord, o, a);
    x = x > 0.0f ? x : 0.0f; /* also maps a NaN to 0 */
    x = x < (float)last ? x : (float)last;
    int64_t idx = (int64_t)x;
    if (idx > last) idx = last;
    const float frac = x - (float)idx;
    *i0 = idx;
    *i1 = idx < last ? idx + 1 : idx;
    *w0 = 1.0f - frac;
    *w1 = frac;
}

static void nearest_plane_rows(const resize_geom *g, const float *x, float *y, int64_t oy0, int64_t oy1) {
    int32_t cols[RESIZE_COLS];
    const int64_t in_w = g->w.in, out_w = g->w.out;
    for (int64_t c0 = 0; c0 < out_w; c0 += RESIZE_COLS) {
        const int64_t nc = gconv_ops_min_i64(RESIZE_COLS, out_w - c0);
        int identity = c0 + nc <= in_w;
        for (int64_t j = 0; j < nc; j++) {
            cols[j] = (int32_t)nearest_index(g, &g->w, c0 + j);
            identity &= cols[j] == c0 + j;
        }
        int64_t prev_src = -1;
        for (int64_t oy = oy0; oy < oy1; oy++) {
            const int64_t iy = nearest_index(g, &g->h, oy);
            float *GCONV_RESTRICT yr = y + oy * out_w + c0;
            if (iy == prev_src) { /* upsampling repeats the row just written */
                memcpy(yr, yr - out_w, (size_t)nc * sizeof(float));
                continue;
            }
            prev_src = iy;
            const float *GCONV_RESTRICT xr = x + iy * in_w;
            if (identity) {
                memcpy(yr, xr + c0, (size_t)nc * sizeof(float));
            } else {
                for (int64_t j = 0; j < nc; j++) yr[j] = xr[cols[j]];
            }
        }
    }
}

static void bilinear_plane_rows(const resize_geom *g, const float *x, float *y, int64_t oy0, int64_t oy1) {
    int32_t i0[RESIZE_COLS], i1[RESIZE_COLS];
    float w0[RESIZE_COLS], w1[RESIZE_COLS];
    const int64_t in_w = g->w.in, out_w = g->w.out;
    for (int64_t c0 = 0; c0 < out_w; c0 += RESIZE_COLS) {
        const int64_t nc = gconv_ops_min_i64(RESIZE_COLS, out_w - c0);
        for (int64_t j = 0; j < nc; j++) {
            int64_t a, b;
            linear_taps(g, &g->w, c0 + j, &a, &b, &w0[j], &w1[j]);
            i0[j] = (int32_t)a;
            i1[j] = (int32_t)b;
        }
        for (int64_t oy = oy0; oy < oy1; oy++) {
            int64_t ra, rb;
            float h0, h1;
            linear_taps(g, &g->h, oy, &ra, &rb, &h0, &h1);
            const float *GCONV_RESTRICT top = x + ra * in_w;
            const float *GCONV_RESTRICT bottom = x + rb * in_w;
            float *GCONV_RESTRICT yr = y + oy * out_w + c0;
            /* torch's order: each row interpolated along W, then the two rows along H. */
            for (int64_t j = 0; j < nc; j++)
                yr[j] = (top[i0[j]] * w0[j] + top[i1[j]] * w1[j]) * h0 + (bottom[i0[j]] * w0[j] + bottom[i1[j]] * w1[j]) * h1;
        }
    }
}

static gconv_status make_axis(double scale, int64_t in, int64_t out, gconv_coord_mode coord, const char *name,
                              resize_axis *a) {
    a->in = in;
    a->out = out;
    if (isnan(scale)) return gconv_fail(GCONV_EINVAL, "%s must not be NaN", name);
    if (scale > 0.0) {
        const float fs = (float)scale, finv = (float)(1.0 / scale);
        if (!isfinite(fs) || fs == 0.0f || !isfinite(finv) || finv == 0.0f)
            return gconv_fail(GCONV_EINVAL, "%s=%g is out of float range", name, scale);
        a->scale = fs;
        a->ratio = finv; /* torch: static_cast<float>(1.0 / scale) */
    } else {
        a->scale = (float)out / (float)in;
        a->ratio = (float)in / (float)out;
    }
    if (coord == GCONV_COORD_TORCH_ALIGN_CORNERS) a->ratio = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    /* torch copies an axis whose length is unchanged (even with scale_factor != 1); ONNX Runtime
     * maps an axis with scale 1 one to one (and copies a tensor whose shape is unchanged, below). */
    a->identity = is_torch_coord(coord) ? out == in : a->scale == 1.0f;
    return GCONV_OK;
}

typedef struct {
    const resize_geom *g;
    const float *x;
    float *y;
    int64_t chunks, rows_per_chunk, in_plane, out_plane, out_h;
} resize_loop;

static void resize_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const resize_loop *l = ctx;
    (void)tid;
    for (int64_t item = begin; item < end; item++) {
        const int64_t plane = item / l->chunks, oy0 = (item % l->chunks) * l->rows_per_chunk;
        const int64_t oy1 = gconv_ops_min_i64(oy0 + l->rows_per_chunk, l->out_h);
        const float *xp = l->x + plane * l->in_plane;
        float *yp = l->y + plane * l->out_plane;
        if (l->g->mode == GCONV_RESIZE_NEAREST)
            nearest_plane_rows(l->g, xp, yp, oy0, oy1);
        else
            bilinear_plane_rows(l->g, xp, yp, oy0, oy1);
    }
}

gconv_status gconv_resize(const gconv_resize_desc *d, const gconv_tensor_shape *in, const float *x, int64_t out_h,
                          int64_t out_w, float *y, int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t count, out_count;
    gconv_status st;
    if (!d) return gconv_fail(GCONV_EINVAL, "resize desc is NULL");
    if (d->mode != GCONV_RESIZE_NEAREST && d->mode != GCONV_RESIZE_BILINEAR)
        return gconv_fail(GCONV_EINVAL, "mode: unknown resize mode %d", (int)d->mode);
    if ((unsigned)d->coord >= GCONV_COORD_COUNT)
        return gconv_fail(GCONV_EINVAL, "coordinate_transformation_mode: unknown value %d", (int)d->coord);
    if ((unsigned)d->nearest >= GCONV_NEAREST_COUNT)
        return gconv_fail(GCONV_EINVAL, "nearest_mode: unknown value %d", (int)d->nearest);
    if ((d->coord == GCONV_COORD_TORCH_NEAREST) != (d->mode == GCONV_RESIZE_NEAREST) && is_torch_coord(d->coord))
        return gconv_fail(GCONV_EINVAL, "coordinate_transformation_mode: torch_nearest goes with mode nearest, "
                                        "torch_half_pixel and torch_align_corners with bilinear");
    if ((st = gconv_ops_check_shape(in, "x", &count))) return st;
    if (in->h < 1 || in->w < 1)
        return gconv_fail(GCONV_EINVAL, "x: height and width must be positive, got %lldx%lld", (long long)in->h,
                          (long long)in->w);
    if (out_h < 1 || out_w < 1)
        return gconv_fail(GCONV_EINVAL, "size: output height and width must be positive, got %lldx%lld",
                          (long long)out_h, (long long)out_w);
    /* Column indices live in int32 tables. */
    if (in->w > INT32_MAX || in->h > INT32_MAX || out_h > INT32_MAX || out_w > INT32_MAX)
        return gconv_fail(GCONV_EINVAL, "size: resize supports spatial sizes below 2^31");
    const gconv_tensor_shape out = {in->n, in->c, out_h, out_w};
    if ((st = gconv_ops_check_shape(&out, "y", &out_count))) return st;
    resize_geom g;
    g.mode = d->mode;
    g.coord = d->coord;
    g.nearest = d->nearest;
    if ((st = make_axis(d->scale_h, in->h, out_h, d->coord, "scale_h", &g.h))) return st;
    if ((st = make_axis(d->scale_w, in->w, out_w, d->coord, "scale_w", &g.w))) return st;
    if (out_h == in->h && out_w == in->w) g.h.identity = g.w.identity = 1;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    if (out_count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");

    const int64_t planes = in->n * in->c, in_plane = in->h * in->w, out_plane = out_h * out_w;
    int64_t chunks = 1;
    if (num_threads > 1 && planes < num_threads) {
        chunks = (2 * (int64_t)num_threads + planes - 1) / planes;
        if (chunks > out_h) chunks = out_h;
    }
    const int64_t rows_per_chunk = (out_h + chunks - 1) / chunks, items = planes * chunks;
    int64_t work;
    if (!gconv_mul_i64(out_count, d->mode == GCONV_RESIZE_BILINEAR ? 4 : 1, &work)) work = INT64_MAX;
    const int threads = gconv_ops_threads(num_threads, items, work);
    const resize_loop rl = {&g, x, y, chunks, rows_per_chunk, in_plane, out_plane, out_h};
    gconv_parallel_for(threads, items, resize_share, &rl);
    return GCONV_OK;
}
