/* Max and average pooling with torch's semantics (MaxPool2d, AvgPool2d,
 * adaptive and global average pooling), also used for ONNX's pools.
 *
 * Each output row is split into border columns (windows that reach into the
 * padding, computed pixel by pixel with bounds) and interior columns (windows
 * wholly inside the input), where the taps are unit- or constant-stride loops
 * that GCC vectorizes. Taps are visited in torch's order (ky outer, kx inner),
 * so sums round as torch's do. */
#include "ops_internal.h"

#include <stdint.h>

/* Everything one plane needs; derived once per call. */
typedef struct {
    int64_t in_h, in_w, out_h, out_w;
    int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    int count_include_pad;
    int64_t ox_lo, ox_hi; /* interior output columns: every kx tap lies inside the row */
} pool_geom;

/* ceil(a / b) for a >= 0, b > 0, without forming a + b - 1 (pads and strides may be huge). */
static inline int64_t ceil_div_pos(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/* floor(a / b) for b > 0 and any a (torch's div_rtn). */
static inline int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static gconv_status pool_desc_check(const gconv_pool_desc *d) {
    if (!d) return gconv_fail(GCONV_EINVAL, "pool desc is NULL");
    if (d->kind != GCONV_POOL_MAX && d->kind != GCONV_POOL_AVG)
        return gconv_fail(GCONV_EINVAL, "kind: unknown pooling kind %d", (int)d->kind);
    if (d->kernel_h < 1 || d->kernel_w < 1)
        return gconv_fail(GCONV_EINVAL, "kernel_size must be positive, got (%lld, %lld)", (long long)d->kernel_h,
                          (long long)d->kernel_w);
    if (d->stride_h < 1 || d->stride_w < 1)
        return gconv_fail(GCONV_EINVAL, "stride must be positive, got (%lld, %lld)", (long long)d->stride_h,
                          (long long)d->stride_w);
    if (d->dilation_h < 1 || d->dilation_w < 1)
        return gconv_fail(GCONV_EINVAL, "dilation must be positive, got (%lld, %lld)", (long long)d->dilation_h,
                          (long long)d->dilation_w);
    if (d->kind == GCONV_POOL_AVG && (d->dilation_h != 1 || d->dilation_w != 1))
        return gconv_fail(GCONV_EINVAL, "dilation: average pooling takes dilation 1, got (%lld, %lld)",
                          (long long)d->dilation_h, (long long)d->dilation_w);
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
        return gconv_fail(GCONV_EINVAL, "padding must be non-negative, got (%lld, %lld, %lld, %lld)",
                          (long long)d->pad_top, (long long)d->pad_bottom, (long long)d->pad_left,
                          (long long)d->pad_right);
    int64_t taps; /* bounds every window's cell count, the avg divisor included */
    if (!gconv_mul_i64(d->kernel_h, d->kernel_w, &taps))
        return gconv_fail(GCONV_EOVERFLOW, "kernel_size: (%lld, %lld) has more taps than 64 bits hold",
                          (long long)d->kernel_h, (long long)d->kernel_w);
    return GCONV_OK;
}

/* torch's pooling_output_shape, with separate leading/trailing pads: in ceil
 * mode the last window must start inside the input or the leading padding. */
static gconv_status pool_extent(int64_t in, int64_t pad_a, int64_t pad_b, int64_t kernel, int64_t dilation,
                                int64_t stride, int ceil_mode, const char *axis, int64_t *out) {
    if (in < 1) return gconv_fail(GCONV_EINVAL, "x: input %s must be positive, got %lld", axis, (long long)in);
    int64_t padded, eff, span, lead;
    if (!gconv_add_i64(in, pad_a, &lead) || !gconv_add_i64(lead, pad_b, &padded) ||
        !gconv_mul_i64(kernel - 1, dilation, &eff) || !gconv_add_i64(eff, 1, &eff) ||
        !gconv_add_i64(padded - eff, ceil_mode ? stride - 1 : 0, &span))
        return gconv_fail(GCONV_EOVERFLOW, "x: padded input %s or kernel extent overflows", axis);
    int64_t n = floor_div(span, stride) + 1;
    if (ceil_mode && n >= 1 && (n - 1) > (lead - 1) / stride) n--; /* (n-1)*stride >= in + pad_a, without overflow */
    if (n < 1)
        return gconv_fail(GCONV_EINVAL,
                          "kernel_size: output %s would be empty (input %lld, padding %lld+%lld, kernel extent %lld)",
                          axis, (long long)in, (long long)pad_a, (long long)pad_b, (long long)eff);
    *out = n;
    return GCONV_OK;
}

gconv_status gconv_pool2d_output_size(const gconv_pool_desc *d, int64_t in_h, int64_t in_w, int64_t *out_h,
                                      int64_t *out_w) {
    gconv_status st = pool_desc_check(d);
    if (st) return st;
    if (!out_h || !out_w) return gconv_fail(GCONV_EINVAL, "out_h/out_w: NULL pointer");
    if ((st = pool_extent(in_h, d->pad_top, d->pad_bottom, d->kernel_h, d->dilation_h, d->stride_h, d->ceil_mode,
                          "height", out_h)))
        return st;
    return pool_extent(in_w, d->pad_left, d->pad_right, d->kernel_w, d->dilation_w, d->stride_w, d->ceil_mode,
                       "width", out_w);
}

/* First and one-past-last tap k (of `kernel`) whose position start + k*dilation lies in [0, size). */
static inline void valid_taps(int64_t start, int64_t size, int64_t kernel, int64_t dilation, int64_t *lo,
                              int64_t *hi) {
    int64_t a = start >= 0 ? 0 : ceil_div_pos(-start, dilation);
    int64_t b = start >= size ? 0 : ceil_div_pos(size - start, dilation);
    if (b > kernel) b = kernel;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

static void pool_interior_columns(pool_geom *g) {
    /* ox*stride - pad_left >= 0 and ox*stride - pad_left + (kernel_w-1)*dilation <= in_w - 1 */
    const int64_t last_tap = (g->kernel_w - 1) * g->dilation_w;
    int64_t lo = ceil_div_pos(g->pad_left, g->stride_w);
    int64_t room = g->in_w - 1 - last_tap + g->pad_left;
    int64_t hi = room < 0 ? 0 : room / g->stride_w + 1;
    if (lo > g->out_w) lo = g->out_w;
    if (hi > g->out_w) hi = g->out_w;
    if (hi < lo) hi = lo;
    g->ox_lo = lo;
    g->ox_hi = hi;
}

/* ------------------------------------------------------------------- max */

static float max_pixel(const pool_geom *g, const float *x, int64_t ky_lo, int64_t ky_hi, int64_t iy0, int64_t ox) {
    const int64_t ix0 = ox * g->stride_w - g->pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, g->in_w, g->kernel_w, g->dilation_w, &kx_lo, &kx_hi);
    float m = -INFINITY;
    for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
        const float *row = x + (iy0 + ky * g->dilation_h) * g->in_w + ix0;
        for (int64_t kx = kx_lo; kx < kx_hi; kx++) m = gconv_ops_max_nan(m, row[kx * g->dilation_w]);
    }
    return m;
}

/* yr[i] = max(yr[i], src[i*stride]) for i < n; a constant stride lets GCC vectorize. */
static inline __attribute__((always_inline)) void max_accumulate(float *GCONV_RESTRICT yr,
                                                                 const float *GCONV_RESTRICT src, int64_t n,
                                                                 int64_t stride) {
    for (int64_t i = 0; i < n; i++) yr[i] = gconv_ops_max_nan(yr[i], src[i * stride]);
}

static void max_accumulate_any(float *GCONV_RESTRICT yr, const float *GCONV_RESTRICT src, int64_t n,
                               int64_t stride) {
    if (stride == 1)
        max_accumulate(yr, src, n, 1);
    else if (stride == 2)
        max_accumulate(yr, src, n, 2);
    else
        max_accumulate(yr, src, n, stride);
}

/* 3x3 windows at stride 2 (ShuffleNet's and ResNet's pools): whole-window rows go to the ISA's
 * row loop (eltwise_loops.h) */
static int is_3x3s2(const pool_geom *g) {
    return g->kernel_h == 3 && g->kernel_w == 3 && g->stride_h == 2 && g->stride_w == 2 && g->dilation_h == 1 &&
           g->dilation_w == 1;
}

static void max_pool_rows(const pool_geom *g, const gconv_eltwise_loops *loops, const float *x, float *y,
                          int64_t oy_begin, int64_t oy_end) {
    const int fast_3x3s2 = is_3x3s2(g);
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        const int64_t iy0 = oy * g->stride_h - g->pad_top;
        int64_t ky_lo, ky_hi;
        valid_taps(iy0, g->in_h, g->kernel_h, g->dilation_h, &ky_lo, &ky_hi);
        float *yr = y + oy * g->out_w;
        for (int64_t ox = 0; ox < g->ox_lo; ox++) yr[ox] = max_pixel(g, x, ky_lo, ky_hi, iy0, ox);
        for (int64_t ox = g->ox_hi; ox < g->out_w; ox++) yr[ox] = max_pixel(g, x, ky_lo, ky_hi, iy0, ox);
        if (g->ox_lo == g->ox_hi) continue;
        /* Interior columns [ox_lo, ox_hi): every tap is in the row, no bounds needed. */
        const int64_t n = g->ox_hi - g->ox_lo, col0 = g->ox_lo * g->stride_w - g->pad_left;
        float *yi = yr + g->ox_lo;
        if (fast_3x3s2 && ky_lo == 0 && ky_hi == 3) {
            const float *r0 = x + iy0 * g->in_w + col0;
            loops->max_3x3s2(r0, r0 + g->in_w, r0 + 2 * g->in_w, yi, n);
            continue;
        }
        for (int64_t i = 0; i < n; i++) yi[i] = -INFINITY;
        for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
            const float *row = x + (iy0 + ky * g->dilation_h) * g->in_w + col0;
            for (int64_t kx = 0; kx < g->kernel_w; kx++)
                max_accumulate_any(yi, row + kx * g->dilation_w, n, g->stride_w);
        }
    }
}

/* ------------------------------------------------------------------- avg */

static float avg_pixel(const pool_geom *g, const float *x, int64_t ky_lo, int64_t ky_hi, int64_t iy0,
                       int64_t rows_div, int64_t ox) {
    const int64_t ix0 = ox * g->stride_w - g->pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, g->in_w, g->kernel_w, 1, &kx_lo, &kx_hi);
    float s = 0.0f;
    for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
        const float *row = x + (iy0 + ky) * g->in_w + ix0;
        for (int64_t kx = kx_lo; kx < kx_hi; kx++) s += row[kx];
    }
    const int64_t div = rows_div * gconv_ops_avg_extent(ix0, g->kernel_w, g->in_w, g->pad_right, g->count_include_pad);
    /* Only a window wholly in padding has no cells; torch's rule for pads <= kernel/2 never makes one. */
    return div > 0 ? s / (float)div : 0.0f;
}

static inline __attribute__((always_inline)) void sum_accumulate(float *GCONV_RESTRICT yr,
                                                                 const float *GCONV_RESTRICT src, int64_t n,
                                                                 int64_t stride) {
    for (int64_t i = 0; i < n; i++) yr[i] += src[i * stride];
}

static void sum_accumulate_any(float *GCONV_RESTRICT yr, const float *GCONV_RESTRICT src, int64_t n,
                               int64_t stride) {
    if (stride == 1)
        sum_accumulate(yr, src, n, 1);
    else if (stride == 2)
        sum_accumulate(yr, src, n, 2);
    else
        sum_accumulate(yr, src, n, stride);
}

static void avg_pool_rows(const pool_geom *g, const gconv_eltwise_loops *loops, const float *x, float *y,
                          int64_t oy_begin, int64_t oy_end) {
    const int fast_3x3s2 = is_3x3s2(g);
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        const int64_t iy0 = oy * g->stride_h - g->pad_top;
        int64_t ky_lo, ky_hi;
        valid_taps(iy0, g->in_h, g->kernel_h, 1, &ky_lo, &ky_hi);
        const int64_t rows_div = gconv_ops_avg_extent(iy0, g->kernel_h, g->in_h, g->pad_bottom, g->count_include_pad);
        float *yr = y + oy * g->out_w;
        for (int64_t ox = 0; ox < g->ox_lo; ox++) yr[ox] = avg_pixel(g, x, ky_lo, ky_hi, iy0, rows_div, ox);
        for (int64_t ox = g->ox_hi; ox < g->out_w; ox++) yr[ox] = avg_pixel(g, x, ky_lo, ky_hi, iy0, rows_div, ox);
        if (g->ox_lo == g->ox_hi) continue;
        const int64_t n = g->ox_hi - g->ox_lo, col0 = g->ox_lo * g->stride_w - g->pad_left;
        float *yi = yr + g->ox_lo;
        /* Interior windows span kernel_w columns whichever count_include_pad says. */
        const int64_t div = rows_div * g->kernel_w;
        const float fdiv = (float)div;
        if (fast_3x3s2 && ky_lo == 0 && ky_hi == 3 && div > 0) {
            const float *r0 = x + iy0 * g->in_w + col0;
            loops->avg_3x3s2(r0, r0 + g->in_w, r0 + 2 * g->in_w, yi, n, fdiv);
            continue;
        }
        for (int64_t i = 0; i < n; i++) yi[i] = 0.0f;
        for (int64_t ky = ky_lo; ky < ky_hi; ky++) {
            const float *row = x + (iy0 + ky) * g->in_w + col0;
            for (int64_t kx = 0; kx < g->kernel_w; kx++) sum_accumulate_any(yi, row + kx, n, g->stride_w);
        }
        for (int64_t i = 0; i < n; i++) yi[i] = div > 0 ? yi[i] / fdiv : 0.0f;
    }
}

/* ------------------------------------------------------------- scheduling */

/* Work items: planes, or plane row-chunks when there are fewer planes than threads. */
static int64_t row_chunks_per_plane(int64_t planes, int64_t rows, int num_threads) {
    if (num_threads <= 1 || planes >= num_threads || rows <= 1) return 1;
    int64_t chunks = ceil_div_pos(2 * (int64_t)num_threads, planes);
    return chunks < rows ? chunks : rows;
}

typedef struct {
    const pool_geom *g;
    const gconv_eltwise_loops *loops;
    gconv_pool_3x3s2_fn whole_rows; /* or NULL */
    const gconv_pool_3x3s2_geom *g3;
    const float *x;
    float *y;
    int64_t chunks, rows_per_chunk, in_plane, out_plane, out_h;
    int is_max;
} pool_loop;

static void pool_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const pool_loop *l = ctx;
    (void)tid;
    if (l->whole_rows && l->chunks == 1) { /* whole planes: one call for the share */
        l->whole_rows(l->g3, end - begin, l->x + begin * l->in_plane, l->y + begin * l->out_plane, 0, l->out_h);
        return;
    }
    for (int64_t item = begin; item < end; item++) {
        const int64_t plane = item / l->chunks, chunk = item % l->chunks;
        const int64_t oy0 = chunk * l->rows_per_chunk;
        const int64_t oy1 = gconv_ops_min_i64(oy0 + l->rows_per_chunk, l->out_h);
        const float *xp = l->x + plane * l->in_plane;
        float *yp = l->y + plane * l->out_plane;
        if (l->whole_rows)
            l->whole_rows(l->g3, 1, xp, yp, oy0, oy1);
        else if (l->is_max)
            max_pool_rows(l->g, l->loops, xp, yp, oy0, oy1);
        else
            avg_pool_rows(l->g, l->loops, xp, yp, oy0, oy1);
    }
}

gconv_status gconv_pool2d(const gconv_pool_desc *d, const gconv_tensor_shape *in, const float *x, float *y,
                          int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t in_count, oh, ow, out_count;
    gconv_status st;
    if ((st = gconv_ops_check_shape(in, "x", &in_count))) return st;
    if ((st = gconv_pool2d_output_size(d, in->h, in->w, &oh, &ow))) return st;
    const gconv_tensor_shape out = {in->n, in->c, oh, ow};
    if ((st = gconv_ops_check_shape(&out, "y", &out_count))) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    if (out_count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");

    pool_geom g = {in->h, in->w, oh, ow, d->kernel_h, d->kernel_w, d->stride_h, d->stride_w, d->dilation_h,
                   d->dilation_w, d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, d->count_include_pad != 0,
                   0, 0};
    pool_interior_columns(&g);
    const int64_t planes = in->n * in->c, in_plane = in->h * in->w, out_plane = oh * ow;
    const int64_t chunks = row_chunks_per_plane(planes, oh, num_threads);
    const int64_t rows_per_chunk = ceil_div_pos(oh, chunks);
    const int64_t items = planes * chunks;
    const int64_t taps = d->kernel_h * d->kernel_w; /* checked by pool_desc_check */
    int64_t work;
    if (!gconv_mul_i64(out_count, taps, &work)) work = INT64_MAX;
    const int threads = gconv_ops_threads(num_threads, items, work);
    const int is_max = d->kind == GCONV_POOL_MAX;
    const gconv_pool_3x3s2_geom g3 = {in->h, in->w, oh, ow, d->pad_top, d->pad_left, d->pad_bottom, d->pad_right,
                                      d->count_include_pad != 0};
    gconv_pool_3x3s2_fn whole_rows = NULL;
#if defined(__x86_64__) || defined(__i386__)
    if (is_3x3s2(&g) && d->pad_top <= 1 && d->pad_left <= 1 && d->pad_bottom <= 1 && d->pad_right <= 1 &&
        gconv_ops_isa() >= GCONV_ISA_AVX512)
        whole_rows = is_max ? gconv_f32_maxpool_3x3s2__avx512 : gconv_f32_avgpool_3x3s2__avx512;
#endif
    const pool_loop pl = {&g, gconv_ops_eltwise_loops(), whole_rows, &g3, x, y, chunks, rows_per_chunk,
                          in_plane, out_plane, oh, is_max};
    gconv_parallel_for(threads, items, pool_share, &pl);
    return GCONV_OK;
}

/* ------------------------------------------------------- global / adaptive */

/* Sum of n floats: blocks of up to 256 summed in 8 float lanes (vectorized,
 * each lane adds at most 32 values), blocks accumulated in double, so the
 * error stays near 32 ulp of the absolute sum however large the plane, and a
 * 7x7 plane is 6 vector adds. */
static double plane_sum(const float *GCONV_RESTRICT x, int64_t n) {
    enum { LANES = 8, BLOCK = 256 };
    double total = 0.0;
    for (int64_t i = 0; i < n; i += BLOCK) {
        const int64_t m = n - i < BLOCK ? n - i : BLOCK;
        const float *GCONV_RESTRICT b = x + i;
        float acc[LANES] = {0};
        int64_t j = 0;
        for (; j + LANES <= m; j += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += b[j + l];
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; j < m; j++) s += b[j];
        total += s;
    }
    return total;
}

/* The plane loops of global and adaptive average pooling. */
typedef struct {
    const float *x;
    float *y;
    int64_t in_plane, out_plane, in_h, in_w, out_h, out_w;
} plane_loop;

static void global_avgpool_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const plane_loop *l = ctx;
    const double inv_count = 1.0 / (double)l->in_plane;
    (void)tid;
    for (int64_t p = begin; p < end; p++) l->y[p] = (float)(plane_sum(l->x + p * l->in_plane, l->in_plane) * inv_count);
}

gconv_status gconv_global_avgpool(const gconv_tensor_shape *in, const float *x, float *y, int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t count;
    gconv_status st;
    if ((st = gconv_ops_check_shape(in, "x", &count))) return st;
    if (in->h < 1 || in->w < 1)
        return gconv_fail(GCONV_EINVAL, "x: height and width must be positive for global average pooling, got %lldx%lld",
                          (long long)in->h, (long long)in->w);
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    if (count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    const int64_t planes = in->n * in->c, hw = in->h * in->w;
    const int threads = gconv_ops_threads(num_threads, planes, count);
    const plane_loop gl = {x, y, hw, 0, 0, 0, 0, 0};
    gconv_parallel_for(threads, planes, global_avgpool_share, &gl);
    return GCONV_OK;
}

/* torch's adaptive windows: [floor(o*in/out), ceil((o+1)*in/out)), in exact integer arithmetic. */
static inline int64_t adaptive_start(int64_t o, int64_t out, int64_t in) { return (o / out) * in + ((o % out) * in) / out; }
static inline int64_t adaptive_end(int64_t o, int64_t out, int64_t in) {
    return in - ((out - 1 - o) * in) / out; /* = ceil((o+1)*in/out), as in - floor((out-o-1)*in/out) */
}

static void adaptive_avgpool_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const plane_loop *l = ctx;
    (void)tid;
    for (int64_t p = begin; p < end; p++) {
        const float *xp = l->x + p * l->in_plane;
        float *yp = l->y + p * l->out_plane;
        for (int64_t oy = 0; oy < l->out_h; oy++) {
            const int64_t y0 = adaptive_start(oy, l->out_h, l->in_h), y1 = adaptive_end(oy, l->out_h, l->in_h);
            for (int64_t ox = 0; ox < l->out_w; ox++) {
                const int64_t x0 = adaptive_start(ox, l->out_w, l->in_w), x1 = adaptive_end(ox, l->out_w, l->in_w);
                float s = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) s += xp[iy * l->in_w + ix];
                yp[oy * l->out_w + ox] = s / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
}

gconv_status gconv_adaptive_avgpool2d(const gconv_tensor_shape *in, int64_t out_h, int64_t out_w, const float *x,
                                      float *y, int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t count, out_count;
    gconv_status st;
    if ((st = gconv_ops_check_shape(in, "x", &count))) return st;
    if (in->h < 1 || in->w < 1)
        return gconv_fail(GCONV_EINVAL, "x: height and width must be positive, got %lldx%lld", (long long)in->h,
                          (long long)in->w);
    if (out_h < 1 || out_w < 1)
        return gconv_fail(GCONV_EINVAL, "output_size must be positive, got (%lld, %lld)", (long long)out_h,
                          (long long)out_w);
    const gconv_tensor_shape out = {in->n, in->c, out_h, out_w};
    if ((st = gconv_ops_check_shape(&out, "y", &out_count))) return st;
    /* (out-1-o)*in must not overflow in adaptive_end. */
    int64_t t;
    if (!gconv_mul_i64(out_h, in->h, &t) || !gconv_mul_i64(out_w, in->w, &t))
        return gconv_fail(GCONV_EOVERFLOW, "output_size: window arithmetic overflows");
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    if (out_count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    const int64_t planes = in->n * in->c, in_plane = in->h * in->w, out_plane = out_h * out_w;
    int64_t work = count > out_count ? count : out_count;
    const int threads = gconv_ops_threads(num_threads, planes, work);
    const plane_loop al = {x, y, in_plane, out_plane, in->h, in->w, out_h, out_w};
    gconv_parallel_for(threads, planes, adaptive_avgpool_share, &al);
    return GCONV_OK;
}
