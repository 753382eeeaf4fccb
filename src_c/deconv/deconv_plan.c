/* Transposed-convolution operator: validation, algorithm choice, weight packing
 * and the threaded drivers (GEMM + col2im, direct gather, reference).
 *
 * GEMM path, per group: with A = the group's weights as an (c_out/groups*kh*kw) x
 * (c_in/groups) matrix and B = the group's input planes read in place (K rows of
 * in_h*in_w pixels), C = A*B holds for every input pixel what it adds to each
 * (output channel, tap); col2im adds each C row into the output plane, shifted by
 * the tap. A is packed into the GEMM microkernels' panels (the layout conv_plan.c
 * packs: MR biases, then MR weights per k), in blocks of whole output channels, so
 * a work item (batch item, group, channel block) owns its output planes: items run
 * in parallel without sharing an output pixel. Each item sets its planes to the
 * bias, then per tile of input pixels runs the GEMM into per-thread scratch and
 * scatters it, and clamps at the end.
 *
 * Direct path: see deconv_direct_impl.h (gather by stride phase). */
#include "deconv_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


struct gconv_deconv_plan {
    gconv_deconv_desc desc; /* clamp with ReLU/ReLU6 folded in */
    gconv_deconv_algo algo;
    gconv_isa isa;
    const char *kernel_name;
    int64_t cin_g, cout_g, taps; /* taps = kernel_h * kernel_w */
    float *packed;               /* GEMM panels, direct [bias | taps] rows, or the reference's weights */
    size_t packed_floats;
    float *bias;                 /* GEMM and reference: c_out values, NULL without a bias */
    /* GEMM */
    const gconv_kernel_info *gemm;
    const gconv_deconv_col2im_kernels *col2im; /* of the plan's ISA */
    int64_t block_co, n_blocks, block_rows, panels_per_block, panel_floats;
    /* direct */
    gconv_deconv_direct_fn direct;
    int64_t direct_wstride; /* 1 + cin_g * taps */
    int direct_exact;       /* weights not all finite: the per-pixel loop, no padded reads */
};

/* ---------------------------------------------------------------- checks */

static inline bool sub_i64(int64_t a, int64_t b, int64_t *r) { return !__builtin_sub_overflow(a, b, r); }

gconv_status gconv_deconv_desc_check(const gconv_deconv_desc *d) {
    if (!d) return gconv_fail(GCONV_EINVAL, "desc is NULL");
    const gconv_window w = GCONV_WINDOW_OF(d);
    const gconv_status st = gconv_window_check(&w);
    if (st != GCONV_OK) return st;
    if (d->output_pad_h < 0 || d->output_pad_w < 0)
        return gconv_fail(GCONV_EINVAL, "output_padding must be non-negative, got (%lld, %lld)",
                          (long long)d->output_pad_h, (long long)d->output_pad_w);
    if (!(d->output_pad_h < d->stride_h || d->output_pad_h < d->dilation_h))
        return gconv_fail(GCONV_EINVAL,
                          "output_padding: height %lld must be smaller than either the stride (%lld) or the "
                          "dilation (%lld)", (long long)d->output_pad_h, (long long)d->stride_h,
                          (long long)d->dilation_h);
    if (!(d->output_pad_w < d->stride_w || d->output_pad_w < d->dilation_w))
        return gconv_fail(GCONV_EINVAL,
                          "output_padding: width %lld must be smaller than either the stride (%lld) or the "
                          "dilation (%lld)", (long long)d->output_pad_w, (long long)d->stride_w,
                          (long long)d->dilation_w);
    if (d->activation != GCONV_ACT_NONE && d->activation != GCONV_ACT_RELU && d->activation != GCONV_ACT_RELU6)
        return gconv_fail(GCONV_EUNSUPPORTED, "activation: transposed convolution fuses only none, relu and relu6");
    int64_t t, wcount;
    if (!gconv_mul_i64(d->c_in, d->c_out / d->groups, &wcount) || !gconv_mul_i64(wcount, d->kernel_h, &wcount) ||
        !gconv_mul_i64(wcount, d->kernel_w, &wcount) || !gconv_add_i64(wcount, d->c_out, &t) ||
        !gconv_mul_i64(t, (int64_t)sizeof(float), &t) || (uint64_t)t > SIZE_MAX / 4)
        return gconv_fail(GCONV_EOVERFLOW, "weight: size overflows");
    return GCONV_OK;
}

/* out = (in - 1)*stride - pad_a - pad_b + dil*(k - 1) + out_pad + 1, checked. */
static gconv_status deconv_extent(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t dil, int64_t stride,
                                  int64_t out_pad, const char *axis, int64_t *out) {
    int64_t span, eff, v;
    if (!gconv_mul_i64(in - 1, stride, &span) || !gconv_mul_i64(k - 1, dil, &eff) || !gconv_add_i64(span, eff, &v) ||
        !gconv_add_i64(v, out_pad, &v) || !gconv_add_i64(v, 1, &v))
        return gconv_fail(GCONV_EOVERFLOW, "x: the output %s overflows (input %s %lld)", axis, axis, (long long)in);
    if (!sub_i64(v, pad_a, &v) || !sub_i64(v, pad_b, &v) || v < 1)
        return gconv_fail(GCONV_EINVAL,
                          "padding: output size is too small: padding %lld + %lld leaves an output %s below 1 for "
                          "an input %s of %lld", (long long)pad_a, (long long)pad_b, axis, axis, (long long)in);
    *out = v;
    return GCONV_OK;
}

gconv_status gconv_deconv_output_size(const gconv_deconv_desc *d, gconv_conv_geom *g) {
    gconv_status st = gconv_deconv_desc_check(d);
    if (st) return st;
    if (!g) return gconv_fail(GCONV_EINVAL, "geometry is NULL");
    if (g->batch < 0) return gconv_fail(GCONV_EINVAL, "x: batch must be non-negative, got %lld", (long long)g->batch);
    if (g->in_h <= 0 || g->in_w <= 0)
        return gconv_fail(GCONV_EINVAL, "x: height and width must be positive, got %lldx%lld", (long long)g->in_h,
                          (long long)g->in_w);
    if ((st = deconv_extent(g->in_h, d->pad_top, d->pad_bottom, d->kernel_h, d->dilation_h, d->stride_h,
                            d->output_pad_h, "height", &g->out_h)))
        return st;
    if ((st = deconv_extent(g->in_w, d->pad_left, d->pad_right, d->kernel_w, d->dilation_w, d->stride_w,
                            d->output_pad_w, "width", &g->out_w)))
        return st;
    int64_t n_in, n_out;
    if (!gconv_mul_i64(g->in_h, g->in_w, &n_in) || !gconv_mul_i64(n_in, d->c_in, &n_in) ||
        !gconv_mul_i64(n_in, g->batch > 0 ? g->batch : 1, &n_in) || !gconv_mul_i64(n_in, 4, &n_in) ||
        !gconv_mul_i64(g->out_h, g->out_w, &n_out) || !gconv_mul_i64(n_out, d->c_out, &n_out) ||
        !gconv_mul_i64(n_out, g->batch > 0 ? g->batch : 1, &n_out) || !gconv_mul_i64(n_out, 4, &n_out) ||
        (uint64_t)n_in > SIZE_MAX / 2 || (uint64_t)n_out > SIZE_MAX / 2)
        return gconv_fail(GCONV_EOVERFLOW, "x: input or output size overflows");
    return GCONV_OK;
}

/* --------------------------------------------------------------- planning */

static const struct {
    const char *name;
    gconv_isa isa;
    gconv_deconv_direct_fn fn;
} direct_kernels[] = {
    {"deconv-direct-scalar", GCONV_ISA_SCALAR, gconv_deconv_direct__scalar},
    {"deconv-direct-avx2", GCONV_ISA_AVX2, gconv_deconv_direct__avx2},
    /* An AVX-512 build of the same source measured no faster than the AVX2 one (the rows are
     * short and the big cases store-bound: bilinear x2 C=64 56x56 0.38 vs 0.39 ms, x4 28x28
     * 0.54 vs 0.52, k3s1 4 channels/group 0.61 vs 0.61), so the AVX-512 path runs the AVX2 kernel. */
    {"deconv-direct-avx2", GCONV_ISA_AVX512, gconv_deconv_direct__avx2},
};

/* The ISA's widest GEMM tile (the table also holds narrow tiles for few-pixel GEMMs). */
static const gconv_kernel_info *find_gemm(gconv_isa isa) {
    size_t n;
    const gconv_kernel_info *t = gconv_kernel_table(&n), *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i].kind == GCONV_KERNEL_GEMM && t[i].isa == isa && !t[i].prefetches_next &&
            (!best || t[i].mr * t[i].nr > best->mr * best->nr))
            best = &t[i];
    return best;
}

/* Depthwise (one input channel per group, any multiplier) takes the direct path. So do
 * groups of up to DIRECT_MAX_CIN channels when at least 2 taps hit each output pixel
 * (kernel area >= 2 * stride area): measured on AVX-512 (C=64, 28x28 and 56x56, k4s2,
 * k3s1, k2s2), the direct path's cost grows with channels x taps per output, the GEMM's
 * K=cin_g is short but its col2im is cheap when taps rarely overlap (k2s2: GEMM wins
 * from 2 channels per group; k4s2 and k3s1: direct wins up to 4, GEMM from 8). */
#define DIRECT_MAX_CIN 4

static gconv_deconv_algo choose_algo(const gconv_deconv_desc *d) {
    const int64_t cin_g = d->c_in / d->groups;
    if (cin_g == 1) return GCONV_DECONV_DIRECT;
    if (cin_g <= DIRECT_MAX_CIN && (double)d->kernel_h * (double)d->kernel_w >= 2.0 * (double)d->stride_h * (double)d->stride_w)
        return GCONV_DECONV_DIRECT;
    return GCONV_DECONV_GEMM;
}

/* Output rows of C per GEMM block: whole output channels, about this many rows
 * (taps x channels), and at least 4 blocks per group when there are channels for it,
 * so one group still gives the threads work. */
#define GEMM_BLOCK_ROWS 64

gconv_status gconv_deconv_plan_create(const gconv_deconv_desc *d, const float *weight, const float *bias,
                                      gconv_isa isa, gconv_deconv_algo algo, gconv_deconv_plan **out) {
    if (!out) return gconv_fail(GCONV_EINVAL, "out is NULL");
    *out = NULL;
    gconv_status st = gconv_deconv_desc_check(d);
    if (st) return st;
    if (!weight) return gconv_fail(GCONV_EINVAL, "weight is NULL");
    if ((unsigned)isa >= GCONV_ISA_COUNT || !(gconv_cpu_isa_mask() & (1u << isa)))
        return gconv_fail(GCONV_EUNSUPPORTED, "isa: this CPU cannot run the %s path", gconv_isa_name(isa));
    if ((unsigned)algo >= GCONV_DECONV_ALGO_COUNT)
        return gconv_fail(GCONV_EINVAL, "algorithm: unknown value %d", (int)algo);
    if (algo == GCONV_DECONV_AUTO) algo = choose_algo(d);

    gconv_deconv_plan *p = calloc(1, sizeof *p);
    if (!p) return gconv_fail(GCONV_ENOMEM, "out of memory for the plan");
    p->desc = *d;
    if (d->activation == GCONV_ACT_RELU || d->activation == GCONV_ACT_RELU6) {
        if (p->desc.clamp.min < 0.0f) p->desc.clamp.min = 0.0f;
        if (d->activation == GCONV_ACT_RELU6 && p->desc.clamp.max > 6.0f) p->desc.clamp.max = 6.0f;
        if (p->desc.clamp.max < p->desc.clamp.min) p->desc.clamp.max = p->desc.clamp.min;
    }
    p->algo = algo;
    p->isa = isa;
    p->cin_g = d->c_in / d->groups;
    p->cout_g = d->c_out / d->groups;
    p->taps = d->kernel_h * d->kernel_w;                 /* fits: checked in desc_check */
    const int64_t wcount = d->c_in * p->cout_g * p->taps; /* likewise */

    int64_t floats = 0;
    if (algo == GCONV_DECONV_REFERENCE) {
        p->kernel_name = "reference";
        floats = wcount;
    } else if (algo == GCONV_DECONV_DIRECT) {
        for (size_t i = 0; i < sizeof direct_kernels / sizeof direct_kernels[0]; i++)
            if (direct_kernels[i].isa == isa) {
                p->direct = direct_kernels[i].fn;
                p->kernel_name = direct_kernels[i].name;
            }
        p->direct_wstride = 1 + p->cin_g * p->taps;
        if (!gconv_mul_i64(d->c_out, p->direct_wstride, &floats)) {
            gconv_deconv_plan_destroy(p);
            return gconv_fail(GCONV_EOVERFLOW, "packed weight size overflows");
        }
    } else {
        p->gemm = find_gemm(isa);
        p->col2im = isa == GCONV_ISA_AVX512 ? &gconv_deconv_col2im__avx512
                    : isa == GCONV_ISA_AVX2 ? &gconv_deconv_col2im__avx2 : &gconv_deconv_col2im__scalar;
        if (p->gemm) {
            p->kernel_name = p->gemm->name;
            const int64_t mr = p->gemm->mr;
            int64_t co = (GEMM_BLOCK_ROWS + p->taps - 1) / p->taps;
            const int64_t quarter = (p->cout_g + 3) / 4;
            if (co > quarter) co = quarter;
            if (co < 1) co = 1;
            p->block_co = co;
            p->n_blocks = (p->cout_g + co - 1) / co;
            p->block_rows = co * p->taps;
            p->panels_per_block = (p->block_rows + mr - 1) / mr;
            int64_t panels;
            if (!gconv_mul_i64(mr, p->cin_g + 1, &p->panel_floats) ||
                !gconv_mul_i64(p->panels_per_block, p->n_blocks, &panels) ||
                !gconv_mul_i64(panels, d->groups, &panels) || !gconv_mul_i64(panels, p->panel_floats, &floats)) {
                gconv_deconv_plan_destroy(p);
                return gconv_fail(GCONV_EOVERFLOW, "packed weight size overflows");
            }
        }
    }
    if (algo != GCONV_DECONV_REFERENCE && !p->direct && !p->gemm) {
        gconv_deconv_plan_destroy(p);
        return gconv_fail(GCONV_EUNSUPPORTED, "no kernel for this transposed convolution on the %s path",
                          gconv_isa_name(isa));
    }
    if ((uint64_t)floats > SIZE_MAX / 8 || !(p->packed = gconv_aligned_floats((size_t)floats))) {
        gconv_deconv_plan_destroy(p);
        return gconv_fail(GCONV_ENOMEM, "out of memory packing %lld weights", (long long)floats);
    }
    p->packed_floats = (size_t)floats;
    if (bias && algo != GCONV_DECONV_DIRECT) {
        if (!(p->bias = malloc((size_t)d->c_out * sizeof(float)))) {
            gconv_deconv_plan_destroy(p);
            return gconv_fail(GCONV_ENOMEM, "out of memory for the bias");
        }
        memcpy(p->bias, bias, (size_t)d->c_out * sizeof(float));
    }

    if (algo == GCONV_DECONV_REFERENCE) {
        memcpy(p->packed, weight, (size_t)wcount * sizeof(float));
    } else if (algo == GCONV_DECONV_DIRECT) {
        /* per output channel co (group grp, index j): bias, then taps (ci, ky, kx) = weight[grp*cin_g + ci, j] */
        for (int64_t co = 0; co < d->c_out; co++) {
            const int64_t grp = co / p->cout_g, j = co % p->cout_g;
            float *dst = p->packed + co * p->direct_wstride;
            dst[0] = bias ? bias[co] : 0.0f;
            for (int64_t ci = 0; ci < p->cin_g; ci++)
                memcpy(dst + 1 + ci * p->taps, weight + ((grp * p->cin_g + ci) * p->cout_g + j) * p->taps,
                       (size_t)p->taps * sizeof(float));
        }
        for (int64_t i = 0; i < wcount; i++)
            if (!isfinite(weight[i])) {
                p->direct_exact = 1;
                break;
            }
    } else {
        /* Panel i of block b of group grp: rows m = panel*mr + i of the block, row m being output
         * channel b*block_co + m / taps, tap m % taps; A[m][k] = weight[grp*cin_g + k, co, tap]. The
         * bias slots stay 0: the bias is set in the output before the GEMM results are added. */
        const int64_t mr = p->gemm->mr;
        for (int64_t grp = 0; grp < d->groups; grp++) {
            for (int64_t b = 0; b < p->n_blocks; b++) {
                const int64_t co0 = b * p->block_co;
                const int64_t nco = p->cout_g - co0 < p->block_co ? p->cout_g - co0 : p->block_co;
                const int64_t rows = nco * p->taps;
                for (int64_t panel = 0; panel < p->panels_per_block; panel++) {
                    float *dst = p->packed + ((grp * p->n_blocks + b) * p->panels_per_block + panel) * p->panel_floats;
                    for (int64_t i = 0; i < mr; i++) dst[i] = 0.0f;
                    for (int64_t k = 0; k < p->cin_g; k++) {
                        const float *src = weight + ((grp * p->cin_g + k) * p->cout_g + co0) * p->taps;
                        for (int64_t i = 0; i < mr; i++) {
                            const int64_t m = panel * mr + i;
                            dst[mr + k * mr + i] = m < rows ? src[m] : 0.0f;
                        }
                    }
                }
            }
        }
    }
    *out = p;
    return GCONV_OK;
}

void gconv_deconv_plan_destroy(gconv_deconv_plan *p) {
    if (!p) return;
    free(p->packed);
    free(p->bias);
    free(p);
}

gconv_deconv_algo gconv_deconv_plan_algo(const gconv_deconv_plan *p) { return p->algo; }
gconv_isa gconv_deconv_plan_isa(const gconv_deconv_plan *p) { return p->isa; }
const char *gconv_deconv_plan_kernel_name(const gconv_deconv_plan *p) { return p->kernel_name; }
size_t gconv_deconv_plan_packed_bytes(const gconv_deconv_plan *p) { return p->packed_floats * sizeof(float); }

/* ----------------------------------------------------------------- GEMM */

/* Pixel columns of C per tile: the block's rows x tile of scratch stay within
 * ~128 KiB (L2) and the K x tile slice of the input within ~128 KiB. */
#define GEMM_SCRATCH_FLOATS (32 * 1024)

static int64_t gemm_tile(const gconv_deconv_plan *p, const gconv_conv_geom *g) {
    const int64_t nr = p->gemm->nr, pixels = g->in_h * g->in_w;
    int64_t cols = GEMM_SCRATCH_FLOATS / p->block_rows;
    const int64_t bcols = GEMM_SCRATCH_FLOATS / p->cin_g;
    if (bcols < cols) cols = bcols;
    cols = cols / nr * nr;
    if (cols < nr) cols = nr;
    const int64_t pixels_up = (pixels + nr - 1) / nr * nr;
    return cols < pixels_up ? cols : pixels_up;
}

static size_t gemm_scratch_bytes(const gconv_deconv_plan *p, int64_t tile) {
    const size_t bytes = (size_t)p->block_rows * (size_t)tile * sizeof(float);
    return gconv_align_bytes(bytes);
}

static void gemm_run_item(const gconv_deconv_plan *p, const gconv_conv_geom *g, int64_t tile, int64_t item,
                          const float *x, float *y, float *scratch) {
    const gconv_deconv_desc *d = &p->desc;
    const int64_t b = item % p->n_blocks, grp = (item / p->n_blocks) % d->groups;
    const int64_t n = item / (p->n_blocks * d->groups);
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const int64_t co0 = b * p->block_co;
    const int64_t nco = p->cout_g - co0 < p->block_co ? p->cout_g - co0 : p->block_co;
    const int64_t rows = nco * p->taps;
    float *yb = y + (n * d->c_out + grp * p->cout_g + co0) * out_plane;
    const gconv_dw_geom cg = {g->in_h, g->in_w, g->out_h, g->out_w, d->kernel_h, d->kernel_w,
                              d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left};
    for (int64_t c = 0; c < nco; c++)
        p->col2im->fill(yb + c * out_plane, out_plane, p->bias ? p->bias[grp * p->cout_g + co0 + c] : 0.0f);
    const float *xg = x + (n * d->c_in + grp * p->cin_g) * in_plane;
    const float *wb = p->packed + (grp * p->n_blocks + b) * p->panels_per_block * p->panel_floats;
    const int64_t mr = p->gemm->mr, nr = p->gemm->nr;
    const gconv_gemm_ukernel_fn ukernel = p->gemm->gemm;
    const gconv_minmax none = {-INFINITY, INFINITY};
    const int64_t panels = (rows + mr - 1) / mr;
    for (int64_t p0 = 0; p0 < in_plane; p0 += tile) {
        const int64_t nt = in_plane - p0 < tile ? in_plane - p0 : tile;
        for (int64_t panel = 0; panel < panels; panel++) {
            const size_t prow = (size_t)(rows - panel * mr < mr ? rows - panel * mr : mr);
            const float *w = wb + panel * p->panel_floats;
            float *c = scratch + panel * mr * tile;
            for (int64_t j = 0; j < nt; j += nr) {
                const size_t cols = (size_t)(nt - j < nr ? nt - j : nr);
                ukernel(prow, cols, (size_t)p->cin_g, w, xg + p0 + j, (size_t)in_plane, c + j, (size_t)tile, &none);
            }
        }
        p->col2im->add(&cg, scratch, tile, p0, nt, nco, yb);
    }
    if (d->clamp.min > -INFINITY || d->clamp.max < INFINITY) p->col2im->clamp(yb, nco * out_plane, &d->clamp);
}

/* -------------------------------------------------------------- direct */

/* Scratch per thread for the direct path's padded input band. */
#define DIRECT_BAND_FLOATS (64 * 1024)

bool gconv_deconv_direct_layout(const gconv_dw_geom *g, int64_t cin, int64_t in_plane, int64_t budget_floats,
                                gconv_deconv_direct_geom *dg) {
    memset(dg, 0, sizeof *dg);
    dg->g = *g;
    dg->cin = cin;
    dg->in_plane = in_plane;
    dg->band = g->out_h;
    const int64_t sh = g->stride_h, sw = g->stride_w;
    if (sh > GCONV_DECONV_MAX_PHASES || sw > GCONV_DECONV_MAX_PHASES) return true; /* no scratch */
    /* (k - 1) * dilation fits: checked in desc_check */
    dg->my_max = (g->kernel_h - 1) * g->dilation_h / sh;
    dg->mx_max = (g->kernel_w - 1) * g->dilation_w / sw;
    /* columns: phase runs j in [ceil((pl - r)/sw), ceil((out_w + pl - r)/sw)), taps read j - m, 0 <= m <= mx_max */
    int64_t last, width, rs;
    dg->ix0 = gconv_ceil_div(g->pad_left - sw + 1, sw) - dg->mx_max;
    if (!gconv_add_i64(g->out_w, g->pad_left, &last)) return false;
    last = gconv_ceil_div(last, sw) - 1;
    if (!gconv_add_i64(last - dg->ix0, 1 + GCONV_DECONV_SLACK + 15, &width)) return false;
    rs = width / 16 * 16;
    dg->row_stride = rs;
    /* rows: a band of B output rows needs (B - 1)/sh + 2 + my_max input rows */
    int64_t per_row, rows;
    if (!gconv_mul_i64(cin, rs, &per_row)) return false;
    int64_t fit = budget_floats / per_row - 2 - dg->my_max; /* input rows left for the band's own advance */
    int64_t band = fit > 0 ? fit * sh + 1 : 1;
    if (band > g->out_h) band = g->out_h;
    if (band < 1) band = 1;
    dg->band = band;
    if (!gconv_add_i64((band - 1) / sh, 2 + dg->my_max, &rows)) return false;
    dg->rows = rows;
    int64_t floats;
    if (!gconv_mul_i64(per_row, rows, &floats) || (uint64_t)floats > SIZE_MAX / 8) return false;
    dg->scratch_floats = (size_t)floats;
    return true;
}

static bool direct_layout(const gconv_deconv_plan *p, const gconv_conv_geom *g, gconv_deconv_direct_geom *dg) {
    const gconv_deconv_desc *d = &p->desc;
    const gconv_dw_geom wg = {g->in_h, g->in_w, g->out_h, g->out_w, d->kernel_h, d->kernel_w,
                              d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left};
    if (!gconv_deconv_direct_layout(&wg, p->cin_g, g->in_h * g->in_w, DIRECT_BAND_FLOATS, dg)) return false;
    if (p->direct_exact) dg->scratch_floats = 0; /* the exact loop reads no scratch */
    return true;
}

static size_t direct_scratch_bytes(const gconv_deconv_direct_geom *dg) {
    return gconv_align_bytes(dg->scratch_floats * sizeof(float));
}

/* Below this much work (multiply-adds plus a per-row cost) one thread does it all. */
#define DIRECT_MIN_PARALLEL_WORK 131072
#define DIRECT_ROW_COST 64

typedef struct {
    const gconv_deconv_plan *p;
    const gconv_conv_geom *g;
    const gconv_deconv_direct_geom *dg;
    int64_t chunks, rows_per;
    const float *x;
    float *y;
    void *workspace;
    size_t scratch_bytes; /* per thread */
} direct_loop;

static void direct_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const direct_loop *l = ctx;
    const gconv_deconv_plan *p = l->p;
    const gconv_deconv_desc *d = &p->desc;
    const gconv_conv_geom *g = l->g;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    float *scratch = l->scratch_bytes ? gconv_scratch_slice(l->workspace, l->scratch_bytes, tid) : NULL;
    for (int64_t item = begin; item < end; item++) {
        const int64_t plane = item / l->chunks, chunk = item % l->chunks;
        const int64_t oy0 = chunk * l->rows_per;
        const int64_t oy1 = oy0 + l->rows_per < g->out_h ? oy0 + l->rows_per : g->out_h;
        if (oy0 >= oy1) continue;
        const int64_t n = plane / d->c_out, co = plane % d->c_out, grp = co / p->cout_g;
        p->direct(l->dg, l->x + (n * d->c_in + grp * p->cin_g) * in_plane, p->packed + co * p->direct_wstride,
                  l->y + plane * out_plane, oy0, oy1, &d->clamp, scratch);
    }
}

static void direct_run(const gconv_deconv_plan *p, const gconv_conv_geom *g, const gconv_deconv_direct_geom *dg,
                       const float *x, float *y, void *workspace, int num_threads) {
    const gconv_deconv_desc *d = &p->desc;
    const int64_t planes = g->batch * d->c_out;
    int threads = num_threads;
    if (threads > 1) {
        /* taps hitting one output pixel: about cin_g * taps / (stride_h * stride_w) */
        const double per_px = (double)p->cin_g * (double)p->taps / ((double)d->stride_h * (double)d->stride_w) + 1.0;
        const double work = (double)planes * (double)g->out_h * ((double)g->out_w * per_px + DIRECT_ROW_COST);
        if (work < (double)DIRECT_MIN_PARALLEL_WORK) threads = 1;
    }
    /* ~4 items per thread: split the planes' rows when there are few planes */
    int64_t chunks = 1;
    if (threads > 1 && planes < 4 * (int64_t)threads) {
        chunks = (4 * (int64_t)threads + planes - 1) / planes;
        if (chunks > g->out_h) chunks = g->out_h;
    }
    const direct_loop loop = {p, g, dg, chunks, (g->out_h + chunks - 1) / chunks, x, y, workspace,
                              direct_scratch_bytes(dg)};
    gconv_parallel_for(threads, planes * chunks, direct_share, &loop);
}

/* ------------------------------------------------------------------ run */

gconv_status gconv_deconv_plan_workspace_size(const gconv_deconv_plan *p, const gconv_conv_geom *g_in,
                                              int num_threads, size_t *bytes) {
    if (!p || !g_in || !bytes) return gconv_fail(GCONV_EINVAL, "plan, geometry and bytes must not be NULL");
    gconv_conv_geom g = *g_in;
    gconv_status st = gconv_deconv_output_size(&p->desc, &g);
    if (st) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    *bytes = 0;
    if (g.batch == 0 || p->algo == GCONV_DECONV_REFERENCE) return GCONV_OK;
    size_t per;
    if (p->algo == GCONV_DECONV_DIRECT) {
        gconv_deconv_direct_geom dg;
        if (!direct_layout(p, &g, &dg)) return gconv_fail(GCONV_EOVERFLOW, "workspace size overflows");
        per = direct_scratch_bytes(&dg);
    } else {
        per = gemm_scratch_bytes(p, gemm_tile(p, &g));
    }
    if (per == 0) return GCONV_OK;
    if ((size_t)num_threads > SIZE_MAX / per) return gconv_fail(GCONV_EOVERFLOW, "workspace size overflows");
    *bytes = per * (size_t)num_threads;
    return GCONV_OK;
}

typedef struct {
    const gconv_deconv_plan *p;
    const gconv_conv_geom *g;
    int64_t tile;
    const float *x;
    float *y;
    void *workspace;
    size_t scratch_bytes; /* per thread */
} gemm_loop;

static void gemm_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_loop *l = ctx;
    float *scratch = gconv_scratch_slice(l->workspace, l->scratch_bytes, tid);
    for (int64_t item = begin; item < end; item++) gemm_run_item(l->p, l->g, l->tile, item, l->x, l->y, scratch);
}

gconv_status gconv_deconv_plan_run(const gconv_deconv_plan *p, const gconv_conv_geom *g_in, const float *x,
                                   float *y, void *workspace, size_t workspace_bytes, int num_threads) {
    GCONV_FPENV_SCOPE();
    if (!p || !g_in) return gconv_fail(GCONV_EINVAL, "plan and geometry must not be NULL");
    gconv_conv_geom g = *g_in;
    gconv_status st = gconv_deconv_output_size(&p->desc, &g);
    if (st) return st;
    if (g.out_h != g_in->out_h || g.out_w != g_in->out_w)
        return gconv_fail(GCONV_EINVAL, "out: expected spatial size %lldx%lld, got %lldx%lld", (long long)g.out_h,
                          (long long)g.out_w, (long long)g_in->out_h, (long long)g_in->out_w);
    size_t need;
    if ((st = gconv_deconv_plan_workspace_size(p, &g, num_threads, &need))) return st;
    if (workspace_bytes < need || (need && (!workspace || ((uintptr_t)workspace % GCONV_ALIGN))))
        return gconv_fail(GCONV_EINVAL, "workspace: need %zu bytes, 64-byte aligned", need);
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    if (g.batch == 0) return GCONV_OK;

    if (p->algo == GCONV_DECONV_REFERENCE) {
        gconv_deconv2d_reference(&p->desc, &g, x, p->packed, p->bias, y, num_threads);
        return GCONV_OK;
    }
    if (p->algo == GCONV_DECONV_DIRECT) {
        gconv_deconv_direct_geom dg;
        direct_layout(p, &g, &dg); /* cannot fail: workspace_size did the same */
        direct_run(p, &g, &dg, x, y, workspace, num_threads);
        return GCONV_OK;
    }
    const int64_t tile = gemm_tile(p, &g);
    const size_t per = gemm_scratch_bytes(p, tile);
    const gemm_loop loop = {p, &g, tile, x, y, workspace, per};
    gconv_parallel_for(num_threads, g.batch * p->desc.groups * p->n_blocks, gemm_share, &loop);
    return GCONV_OK;
}

gconv_status gconv_deconv_plan_run_shapes(const gconv_deconv_plan *p, const gconv_tensor_shape *x_shape,
                                          const float *x, const gconv_tensor_shape *y_shape, float *y,
                                          void *workspace, size_t workspace_bytes, int num_threads) {
    if (!p || !x_shape || !y_shape) return gconv_fail(GCONV_EINVAL, "plan and shapes must not be NULL");
    if (x_shape->c != p->desc.c_in)
        return gconv_fail(GCONV_EINVAL, "x: expected %lld channels, got %lld", (long long)p->desc.c_in,
                          (long long)x_shape->c);
    if (y_shape->n != x_shape->n || y_shape->c != p->desc.c_out)
        return gconv_fail(GCONV_EINVAL, "out: expected %lld x %lld channels, got %lld x %lld", (long long)x_shape->n,
                          (long long)p->desc.c_out, (long long)y_shape->n, (long long)y_shape->c);
    const gconv_conv_geom g = {x_shape->n, x_shape->h, x_shape->w, y_shape->h, y_shape->w};
    return gconv_deconv_plan_run(p, &g, x, y, workspace, workspace_bytes, num_threads);
}
