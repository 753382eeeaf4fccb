/* Convolution operator: validation, algorithm choice, weight packing, and the
 * threaded driver that feeds the microkernels. */
#include "../common/internal.h"
#include "../winograd/winograd.h"
#include "pad_taps.h"
#include "gconv_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


struct gconv_conv_plan {
    gconv_conv_desc desc;
    gconv_algo algo;
    gconv_isa isa;
    const gconv_kernel_info *kernel; /* NULL for the reference */
    float *packed;                   /* GEMM panels, dwconv [bias|taps] rows, or reference weights */
    size_t packed_floats;
    float *ref_bias;                 /* reference only; NULL when the conv has no bias */
    int64_t cin_g, cout_g, kdim;     /* kdim = cin_g * kernel_h * kernel_w */
    int64_t panels_per_group, panel_floats;
    int direct_1x1;                  /* 1x1, stride 1, no padding: the input is the GEMM's B */
    int64_t oc_blocks, block_floats; /* grouped-direct: blocks of the kernel's mr channels per group, floats per block */
    const gconv_kernel_info *act_kernel; /* PReLU/HardSwish epilogue, NULL when the clamp does it all */
    float *prelu_slope;                  /* c_out slopes for PReLU */
    const gconv_kernel_info *gdc_kernel; /* dwconv: global-depthwise kernel for 1x1 outputs, NULL if none */
    const gconv_kernel_info *narrow_kernel; /* GEMM: few-pixel tile for the pixels past the last whole vector */
    const gconv_kernel_info *prfm_kernel;   /* 1x1 direct GEMM: the wide tile's -prfm twin, or NULL */
    /* Winograd: kernel is the transform entry; packed holds GEMM panels of the plain weights
     * (the direct path for tiles whose input is not finite) */
    const gconv_kernel_info *gemm_kernel;   /* GEMM microkernel (winograd: transform domain and direct path) */
    float *wino_u;                          /* [group][panel][xi] panels of G w G^T, zero bias */
    size_t wino_u_floats;
    int64_t wino_panel_floats;              /* MR * (cin_g + 1) */
    float *wino_bias;                       /* c_out biases (zeros without a bias) */
    int wino_weights_nonfinite;             /* a weight is NaN/Inf: every tile takes the direct path */
    int wino_auto;                          /* chosen by 'auto': may run the GEMM where tiles would waste */
    int64_t *pad_taps;                      /* NaN/Inf taps that can land on padding (pad_taps.h), or NULL */
    size_t pad_tap_count;
};

/* ---------------------------------------------------------------- checks */

gconv_status gconv_conv_desc_check(const gconv_conv_desc *d) {
    if (!d) return gconv_fail(GCONV_EINVAL, "desc is NULL");
    const gconv_window w = GCONV_WINDOW_OF(d);
    const gconv_status st = gconv_window_check(&w);
    if (st != GCONV_OK) return st;
    int64_t t, kdim, wcount;
    if (!gconv_mul_i64(d->c_in / d->groups, d->kernel_h, &kdim) || !gconv_mul_i64(kdim, d->kernel_w, &kdim) ||
        !gconv_mul_i64(kdim, d->c_out, &wcount) || !gconv_mul_i64(wcount, (int64_t)sizeof(float), &t) ||
        (uint64_t)t > SIZE_MAX / 2)
        return gconv_fail(GCONV_EOVERFLOW, "weight size overflows");
    return GCONV_OK;
}

static gconv_status output_extent(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t dil,
                                  int64_t stride, const char *axis, int64_t *out) {
    int64_t padded, eff;
    if (!gconv_add_i64(in, pad_a, &padded) || !gconv_add_i64(padded, pad_b, &padded) ||
        !gconv_mul_i64(k - 1, dil, &eff) || !gconv_add_i64(eff, 1, &eff))
        return gconv_fail(GCONV_EOVERFLOW, "padded input %s overflows", axis);
    if (eff > padded)
        return gconv_fail(GCONV_EINVAL, "kernel_size: dilated kernel %s %lld is larger than the padded input %s %lld",
                          axis, (long long)eff, axis, (long long)padded);
    *out = (padded - eff) / stride + 1;
    return GCONV_OK;
}

gconv_status gconv_conv_output_size(const gconv_conv_desc *d, gconv_conv_geom *g) {
    gconv_status st = gconv_conv_desc_check(d);
    if (st) return st;
    if (g->batch < 0) return gconv_fail(GCONV_EINVAL, "x: batch must be non-negative");
    if (g->in_h <= 0 || g->in_w <= 0) return gconv_fail(GCONV_EINVAL, "x: height and width must be positive");
    if ((st = output_extent(g->in_h, d->pad_top, d->pad_bottom, d->kernel_h, d->dilation_h, d->stride_h, "height", &g->out_h)))
        return st;
    if ((st = output_extent(g->in_w, d->pad_left, d->pad_right, d->kernel_w, d->dilation_w, d->stride_w, "width", &g->out_w)))
        return st;
    int64_t n_in, n_out;
    if (!gconv_mul_i64(g->batch, d->c_in, &n_in) || !gconv_mul_i64(n_in, g->in_h, &n_in) ||
        !gconv_mul_i64(n_in, g->in_w, &n_in) || !gconv_mul_i64(n_in, 4, &n_in) ||
        !gconv_mul_i64(g->batch, d->c_out, &n_out) || !gconv_mul_i64(n_out, g->out_h, &n_out) ||
        !gconv_mul_i64(n_out, g->out_w, &n_out) || !gconv_mul_i64(n_out, 4, &n_out) ||
        (uint64_t)n_in > SIZE_MAX / 2 || (uint64_t)n_out > SIZE_MAX / 2)
        return gconv_fail(GCONV_EOVERFLOW, "x: input or output size overflows");
    return GCONV_OK;
}

/* --------------------------------------------------------------- planning */

static const gconv_kernel_info *find_act_kernel(gconv_activation act, gconv_isa isa) {
    size_t n;
    const gconv_kernel_info *t = gconv_kernel_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].kind == GCONV_KERNEL_VACT && t[i].isa == isa && t[i].activation == act) return &t[i];
    return NULL;
}

/* GEMM tiles at most this wide are few-pixel tiles (vectors along the output channels), the
 * rest wide ones (vectors along the pixels). */
#define GEMV_MAX_PIXELS 4

/* The widest few-pixel GEMM tile whose panels match the wide kernel's (same MR), or NULL. */
static const gconv_kernel_info *find_gemm_narrow(const gconv_kernel_info *wide) {
    size_t n;
    const gconv_kernel_info *t = gconv_kernel_table(&n), *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i].kind == GCONV_KERNEL_GEMM && t[i].isa == wide->isa && t[i].nr <= GEMV_MAX_PIXELS &&
            t[i].mr == wide->mr && (!best || t[i].nr > best->nr))
            best = &t[i];
    return best;
}

/* The wide tile's -prfm twin (same tile, also prefetching the next call's b), or NULL. */
static const gconv_kernel_info *find_gemm_prfm(const gconv_kernel_info *wide) {
    size_t n;
    const gconv_kernel_info *t = gconv_kernel_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].kind == GCONV_KERNEL_GEMM && t[i].prefetches_next && t[i].isa == wide->isa && t[i].mr == wide->mr &&
            t[i].nr == wide->nr && t[i].nr_edge == wide->nr_edge)
            return &t[i];
    return NULL;
}

static const gconv_kernel_info *find_kernel(gconv_kernel_kind kind, gconv_isa isa, const gconv_conv_desc *d) {
    size_t n;
    const gconv_kernel_info *t = gconv_kernel_table(&n), *generic = NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].kind != kind || t[i].isa != isa) continue;
        if (kind == GCONV_KERNEL_GEMM && (t[i].nr <= GEMV_MAX_PIXELS || t[i].prefetches_next))
            continue; /* see find_gemm_narrow, find_gemm_prfm */
        if (t[i].kernel_h == 0) {
            if (!generic) generic = &t[i];
        } else if (t[i].kernel_h == d->kernel_h && t[i].kernel_w == d->kernel_w &&
                   t[i].stride == d->stride_h && t[i].stride == d->stride_w &&
                   (t[i].dilation == 0 || (t[i].dilation == d->dilation_h && t[i].dilation == d->dilation_w))) {
            return &t[i]; /* a specialization beats the generic kernel */
        }
    }
    return generic;
}

/* Packs each group's cout_g x kdim weight matrix into panels of `width` output
 * channels: the panel's `width` biases, then for each k its `width` weights.
 * Rows past cout_g are zero, so kernels compute full panels and store only the
 * valid rows. Both the GEMM (width MR) and the grouped-direct kernels (width 4)
 * read this layout. */
static void pack_panels(gconv_conv_plan *p, const float *weight, const float *bias, int64_t width,
                        int64_t panels_per_group, int64_t panel_floats) {
    for (int64_t grp = 0; grp < p->desc.groups; grp++) {
        for (int64_t panel = 0; panel < panels_per_group; panel++) {
            float *dst = p->packed + (grp * panels_per_group + panel) * panel_floats;
            for (int64_t i = 0; i < width; i++) {
                const int64_t m = panel * width + i;
                const int valid = m < p->cout_g;
                const int64_t co = grp * p->cout_g + m;
                dst[i] = valid && bias ? bias[co] : 0.0f;
                for (int64_t k = 0; k < p->kdim; k++)
                    dst[width + k * width + i] = valid ? weight[co * p->kdim + k] : 0.0f;
            }
        }
    }
}

static int all_finite(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Winograd: for each group, GEMM panel of MR output channels and transform point xi, the
 * panel of U_xi = (G w G^T)[xi] over the group's input channels (MR zero biases first: the
 * bias is added after the output transform). */
static void pack_winograd(gconv_conv_plan *p, const float *weight, const float *bias) {
    const int64_t mr = p->gemm_kernel->mr, cin_g = p->cin_g, r = p->desc.kernel_h;
    float u[GCONV_WINO_POINTS];
    memset(p->wino_u, 0, p->wino_u_floats * sizeof(float));
    for (int64_t grp = 0; grp < p->desc.groups; grp++)
        for (int64_t m = 0; m < p->cout_g; m++) {
            const int64_t co = grp * p->cout_g + m, panel = m / mr, i = m % mr;
            float *base = p->wino_u + (grp * p->panels_per_group + panel) * GCONV_WINO_POINTS * p->wino_panel_floats;
            for (int64_t ci = 0; ci < cin_g; ci++) {
                gconv_winograd_weight((int)r, weight + (co * cin_g + ci) * r * r, u);
                for (int xi = 0; xi < GCONV_WINO_POINTS; xi++)
                    base[xi * p->wino_panel_floats + mr + ci * mr + i] = u[xi];
            }
        }
    for (int64_t co = 0; co < p->desc.c_out; co++) p->wino_bias[co] = bias ? bias[co] : 0.0f;
    /* (a NaN/Inf bias is harmless: it is added after the output transform) */
    p->wino_weights_nonfinite = !all_finite(weight, p->desc.c_out * p->kdim);
}

static void pack_dwconv(gconv_conv_plan *p, const float *weight, const float *bias) {
    const int64_t taps = p->kdim; /* cin_g == 1 */
    for (int64_t co = 0; co < p->desc.c_out; co++) {
        float *dst = p->packed + co * (taps + 1);
        dst[0] = bias ? bias[co] : 0.0f;
        memcpy(dst + 1, weight + co * taps, (size_t)taps * sizeof(float));
    }
}

/* Few channels per group (ResNeXt's 4): a GEMM would have a K of cin_g*kh*kw and
 * half-empty panels, so a direct kernel that reuses each input vector for 4
 * output channels wins. Its vector path needs stride 1; 1x1 stays a GEMM. */
#define GROUPED_DIRECT_MAX_CIN 8

/* Winograd F(4x4, 3x3) takes 3x3 stride-1 undilated convs with padding <= 1, F(2x2, 5x5) 5x5
 * ones with padding <= 2 (wider padding would put windows of pure padding, which must come out
 * exactly as the bias, inside tiles that also see real pixels), and both need at least this
 * many input channels per group. F(4x4, 3x3)'s rounding
 * error does not grow with K like a dot product's but is a multiple of the tile's magnitude,
 * so with few channels it exceeds the suite's per-element bound (the worst element over
 * random sweeps: 0.8x the bound at 4 channels, 0.46x at 8, 0.21x at 16, 0.13x at 32). */
#define WINOGRAD_MIN_CIN 16

static int winograd_supported(const gconv_conv_desc *d) {
    const int64_t half = d->kernel_h / 2; /* F(4x4, 3x3): padding <= 1; F(2x2, 5x5): <= 2 */
    return (d->kernel_h == 3 || d->kernel_h == 5) && d->kernel_w == d->kernel_h && d->stride_h == 1 &&
           d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1 && d->pad_top <= half &&
           d->pad_bottom <= half && d->pad_left <= half && d->pad_right <= half &&
           d->c_in / d->groups >= WINOGRAD_MIN_CIN;
}

/* A network's first layer (dense, at most 4 input channels, here 3x3 stride 2) where this ISA has a
 * direct kernel for its geometry: as a GEMM its K of 27 makes the im2col cost as much as the
 * products. 1 thread, against the GEMM: 3 -> 32 at 224x224 0.66 of its time, 3 -> 24 0.59, 3 -> 64
 * at 112x112 0.95; on 2 threads its channel split also leaves the next depthwise layer's input in
 * that layer's own cores' caches (mobilenet_v1/v2 0.93, shufflenet v1/v2 0.89 of their time). */
#define FIRST_LAYER_MAX_CIN 4

static int first_layer_direct(const gconv_conv_desc *d, gconv_isa isa) {
    if (d->groups != 1 || d->c_in > FIRST_LAYER_MAX_CIN) return 0;
    const gconv_kernel_info *k = find_kernel(GCONV_KERNEL_GCONV, isa, d);
    return k && k->kernel_h != 0; /* a specialization for this kernel size and stride */
}

static gconv_algo choose_algo(const gconv_conv_desc *d, const float *weight, gconv_isa isa) {
    const int64_t cin_g = d->c_in / d->groups;
    if (cin_g == 1) return GCONV_ALGO_DWCONV;
    if (first_layer_direct(d, isa)) return GCONV_ALGO_GROUPED_DIRECT;
    if (d->groups > 1 && cin_g <= GROUPED_DIRECT_MAX_CIN && d->stride_w == 1 &&
        (d->kernel_h > 1 || d->kernel_w > 1))
        return GCONV_ALGO_GROUPED_DIRECT;
    /* Winograd spreads a NaN/Inf weight over a whole filter: torch's positions need the GEMM. */
    if (winograd_supported(d) && all_finite(weight, d->c_out * cin_g * d->kernel_h * d->kernel_w))
        return GCONV_ALGO_WINOGRAD;
    return GCONV_ALGO_GEMM;
}

gconv_status gconv_conv_plan_create(const gconv_conv_desc *d, const float *weight, const float *bias,
                                    const float *prelu_slope, gconv_isa isa, gconv_algo algo,
                                    gconv_conv_plan **out) {
    *out = NULL;
    gconv_status st = gconv_conv_desc_check(d);
    if (st) return st;
    if (!weight) return gconv_fail(GCONV_EINVAL, "weight is NULL");
    if ((unsigned)isa >= GCONV_ISA_COUNT || !(gconv_cpu_isa_mask() & (1u << isa)))
        return gconv_fail(GCONV_EUNSUPPORTED, "isa: this CPU cannot run the %s path", gconv_isa_name(isa));
    if ((unsigned)algo >= GCONV_ALGO_COUNT) return gconv_fail(GCONV_EINVAL, "algorithm: unknown value %d", (int)algo);
    if (d->activation == GCONV_ACT_PRELU && !prelu_slope)
        return gconv_fail(GCONV_EINVAL, "prelu_weight: PReLU needs one slope per output channel");

    const int64_t cin_g = d->c_in / d->groups;
    const int auto_chosen = algo == GCONV_ALGO_AUTO;
    if (algo == GCONV_ALGO_AUTO) algo = choose_algo(d, weight, isa);
    if (algo == GCONV_ALGO_DWCONV && cin_g != 1)
        return gconv_fail(GCONV_EUNSUPPORTED, "algorithm: dwconv needs groups == in_channels");
    if (algo == GCONV_ALGO_WINOGRAD && !winograd_supported(d))
        return gconv_fail(GCONV_EUNSUPPORTED,
                          "algorithm: winograd needs a 3x3 or 5x5 kernel, stride 1, dilation 1, padding <= 1 "
                          "(3x3) or <= 2 (5x5) and at least %d input channels per group", WINOGRAD_MIN_CIN);

    gconv_conv_plan *p = calloc(1, sizeof *p);
    if (!p) return gconv_fail(GCONV_ENOMEM, "out of memory for the plan");
    p->desc = *d;
    /* ReLU and ReLU6 are a clamp, which every kernel applies for free. */
    if (d->activation == GCONV_ACT_RELU || d->activation == GCONV_ACT_RELU6) {
        if (p->desc.clamp.min < 0.0f) p->desc.clamp.min = 0.0f;
        if (d->activation == GCONV_ACT_RELU6 && p->desc.clamp.max > 6.0f) p->desc.clamp.max = 6.0f;
        if (p->desc.clamp.max < p->desc.clamp.min) p->desc.clamp.max = p->desc.clamp.min;
    } else if (d->activation != GCONV_ACT_NONE) {
        p->act_kernel = find_act_kernel(d->activation, isa);
        if (!p->act_kernel) {
            free(p);
            return gconv_fail(GCONV_EUNSUPPORTED, "activation: no kernel on the %s path", gconv_isa_name(isa));
        }
    }
    if (d->activation == GCONV_ACT_PRELU) {
        if (!(p->prelu_slope = malloc((size_t)d->c_out * sizeof(float)))) {
            free(p);
            return gconv_fail(GCONV_ENOMEM, "out of memory for the PReLU slopes");
        }
        memcpy(p->prelu_slope, prelu_slope, (size_t)d->c_out * sizeof(float));
    }
    p->algo = algo;
    p->isa = isa;
    p->cin_g = cin_g;
    p->cout_g = d->c_out / d->groups;
    p->kdim = cin_g * d->kernel_h * d->kernel_w; /* checked in desc_check */
    const int64_t wcount = p->kdim * d->c_out;

    int64_t floats = 0;
    if (algo == GCONV_ALGO_REFERENCE) {
        floats = wcount;
    } else if (algo == GCONV_ALGO_DWCONV) {
        p->kernel = find_kernel(GCONV_KERNEL_DWCONV, isa, d);
        p->gdc_kernel = find_kernel(GCONV_KERNEL_GDC, isa, d);
        floats = d->c_out * (p->kdim + 1);
    } else if (algo == GCONV_ALGO_GROUPED_DIRECT) {
        p->kernel = find_kernel(GCONV_KERNEL_GCONV, isa, d);
        const int64_t oc = p->kernel ? p->kernel->mr : GCONV_GCONV_OC; /* (no kernel: refused below) */
        p->oc_blocks = (p->cout_g + oc - 1) / oc;
        p->block_floats = oc * (p->kdim + 1);
        if (!gconv_mul_i64(p->oc_blocks * d->groups, p->block_floats, &floats)) {
            gconv_conv_plan_destroy(p);
            return gconv_fail(GCONV_EOVERFLOW, "packed weight size overflows");
        }
    } else if (algo == GCONV_ALGO_WINOGRAD) {
        p->kernel = find_kernel(GCONV_KERNEL_WINOGRAD, isa, d);
        p->gemm_kernel = find_kernel(GCONV_KERNEL_GEMM, isa, d);
        p->narrow_kernel = p->gemm_kernel ? find_gemm_narrow(p->gemm_kernel) : NULL;
        p->wino_auto = auto_chosen;
        const int64_t mr = p->gemm_kernel ? p->gemm_kernel->mr : 1;
        p->panels_per_group = (p->cout_g + mr - 1) / mr;
        p->panel_floats = mr * (p->kdim + 1);
        p->wino_panel_floats = mr * (cin_g + 1);
        int64_t ufloats;
        if (!gconv_mul_i64(p->panels_per_group * d->groups, p->panel_floats, &floats) ||
            !gconv_mul_i64(p->panels_per_group * d->groups, GCONV_WINO_POINTS, &ufloats) ||
            !gconv_mul_i64(ufloats, p->wino_panel_floats, &ufloats) || (uint64_t)ufloats > SIZE_MAX / 8) {
            gconv_conv_plan_destroy(p);
            return gconv_fail(GCONV_EOVERFLOW, "packed weight size overflows");
        }
        p->wino_u_floats = (size_t)ufloats;
        if (p->kernel && p->gemm_kernel &&
            (!(p->wino_u = gconv_aligned_floats(p->wino_u_floats)) || !(p->wino_bias = malloc((size_t)d->c_out * sizeof(float))))) {
            gconv_conv_plan_destroy(p);
            return gconv_fail(GCONV_ENOMEM, "out of memory packing %lld Winograd weights", (long long)ufloats);
        }
    } else {
        p->kernel = find_kernel(GCONV_KERNEL_GEMM, isa, d);
        p->gemm_kernel = p->kernel;
        p->narrow_kernel = p->kernel ? find_gemm_narrow(p->kernel) : NULL;
        const int64_t mr = p->kernel ? p->kernel->mr : 1;
        p->panels_per_group = (p->cout_g + mr - 1) / mr;
        p->panel_floats = mr * (p->kdim + 1);
        p->direct_1x1 = d->kernel_h == 1 && d->kernel_w == 1 && d->stride_h == 1 && d->stride_w == 1 &&
                        d->pad_top == 0 && d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0;
        p->prfm_kernel = p->direct_1x1 && p->kernel ? find_gemm_prfm(p->kernel) : NULL;
        if (!gconv_mul_i64(p->panels_per_group * d->groups, p->panel_floats, &floats)) {
            gconv_conv_plan_destroy(p);
            return gconv_fail(GCONV_EOVERFLOW, "packed weight size overflows");
        }
    }
    if (algo != GCONV_ALGO_REFERENCE && (!p->kernel || (algo == GCONV_ALGO_WINOGRAD && !p->gemm_kernel))) {
        gconv_conv_plan_destroy(p);
        return gconv_fail(GCONV_EUNSUPPORTED, "no kernel for this convolution on the %s path", gconv_isa_name(isa));
    }
    if ((uint64_t)floats > SIZE_MAX / 8 || !(p->packed = gconv_aligned_floats((size_t)floats))) {
        gconv_conv_plan_destroy(p);
        return gconv_fail(GCONV_ENOMEM, "out of memory packing %lld weights", (long long)floats);
    }
    p->packed_floats = (size_t)floats;
    if ((st = gconv_pad_taps_find(d, weight, &p->pad_taps, &p->pad_tap_count))) {
        gconv_conv_plan_destroy(p);
        return st;
    }

    if (algo == GCONV_ALGO_REFERENCE) {
        memcpy(p->packed, weight, (size_t)wcount * sizeof(float));
        if (bias) {
            if (!(p->ref_bias = malloc((size_t)d->c_out * sizeof(float)))) {
                gconv_conv_plan_destroy(p);
                return gconv_fail(GCONV_ENOMEM, "out of memory for the bias");
            }
            memcpy(p->ref_bias, bias, (size_t)d->c_out * sizeof(float));
        }
    } else if (algo == GCONV_ALGO_DWCONV) {
        pack_dwconv(p, weight, bias);
    } else if (algo == GCONV_ALGO_GROUPED_DIRECT) {
        pack_panels(p, weight, bias, p->kernel->mr, p->oc_blocks, p->block_floats);
    } else if (algo == GCONV_ALGO_WINOGRAD) {
        pack_panels(p, weight, bias, p->gemm_kernel->mr, p->panels_per_group, p->panel_floats);
        pack_winograd(p, weight, bias);
    } else {
        pack_panels(p, weight, bias, p->kernel->mr, p->panels_per_group, p->panel_floats);
    }
    *out = p;
    return GCONV_OK;
}

void gconv_conv_plan_destroy(gconv_conv_plan *p) {
    if (!p) return;
    free(p->packed);
    free(p->ref_bias);
    free(p->prelu_slope);
    free(p->wino_u);
    free(p->wino_bias);
    free(p->pad_taps);
    free(p);
}

const gconv_conv_desc *gconv_conv_plan_desc(const gconv_conv_plan *p) { return &p->desc; }
gconv_algo gconv_conv_plan_algo(const gconv_conv_plan *p) { return p->algo; }
gconv_isa gconv_conv_plan_isa(const gconv_conv_plan *p) { return p->isa; }
const char *gconv_conv_plan_kernel_name(const gconv_conv_plan *p) { return p->kernel ? p->kernel->name : "reference"; }
const char *gconv_conv_plan_global_kernel_name(const gconv_conv_plan *p) {
    return p->gdc_kernel ? p->gdc_kernel->name : NULL;
}
size_t gconv_conv_plan_packed_bytes(const gconv_conv_plan *p) {
    return (p->packed_floats + p->wino_u_floats) * sizeof(float);
}

/* ------------------------------------------------------------- epilogue */

/* What one call adds after the kernels. A residual must be added before the activation, so
 * then the kernels run unclamped and the epilogue applies the clamp after the add. */
typedef struct {
    const gconv_minmax *kernel_clamp;
    const float *residual; /* y-shaped, or NULL */
    const float *y;        /* where y starts: a tile's residual is at the same offset */
} run_ctx;

static const gconv_minmax no_clamp = {-INFINITY, INFINITY};

/* Adds the residual and applies the clamp and the PReLU/HardSwish kernel on `channels` output
 * segments of `len` floats, the first at `base` (channel c0), the next ones channel_stride floats
 * apart. Called on the tile a work item just wrote, while it is still in cache. */
static void apply_epilogue(const gconv_conv_plan *p, const run_ctx *rc, float *base, int64_t c0, int64_t channels,
                           int64_t channel_stride, int64_t len) {
    if (rc->residual) {
        const gconv_minmax clamp = p->desc.clamp;
        for (int64_t c = 0; c < channels; c++) {
            float *GCONV_RESTRICT out = base + c * channel_stride;
            const float *GCONV_RESTRICT r = rc->residual + (out - rc->y);
            for (int64_t i = 0; i < len; i++) out[i] = gconv_clampf(out[i] + r[i], &clamp);
        }
    }
    if (!p->act_kernel) return;
    for (int64_t c = 0; c < channels; c++)
        p->act_kernel->vact((size_t)len, base + c * channel_stride, p->prelu_slope ? p->prelu_slope[c0 + c] : 0.0f);
}

/* ----------------------------------------------------------------- GEMM */

/* Tile boundaries are multiples of this many pixels (one AVX-512 vector): every tile but the
 * last starts on a vector, and the tiles differ by at most one vector, so equal tile counts
 * are equal work (192 + 4 pixels, 14x14's split by width, gave one thread 98% of the work). */
#define GEMM_TILE_QUANTUM 16

/* Whether a GEMM's plane runs in calls of exactly nr + nr_edge pixels, its tiles starting on
 * multiples of that instead of GEMM_TILE_QUANTUM. A kernel that takes one column past its whole
 * vectors (nr_edge: 8x48 + 1 = 49 columns, 25 FMAs per k where 48 columns take 24) can cover a plane
 * of 49k pixels in calls of exactly 49 with no remainder: a 14x14 plane's 196 as 4 x 49 (and 2 x 98
 * on 2 threads) where whole-vector tiles leave 192 + 4, whose 4 pixels cost the few-pixel kernel a
 * pass over all the weights, on one thread of two (96 | 100). Planes that are whole vectors
 * (28x28, 56x56) keep the vector quantum: their tiles start on cache lines (gemm_align_head), and a
 * 49-column call there would split its loads. One layer, AVX-512, one process, this over vector
 * tiles: 256 -> 128 at 14x14 0.955 (1 thread) / 0.984 (2), 512 -> 128 0.943 / 0.915, 128 -> 256
 * 0.993 / 0.979, 128 -> 512 0.986 / 0.949; networks 0.98-1.00 on 1 and 2 threads (mobilefacenet
 * 0.993-1.008, mobilenet_v1 0.978-0.985). The quantum depends on the pixel count alone, and so does
 * whether the few-pixel kernel runs (gemm_narrow_from), so a pixel gets the same bits at every thread
 * count. A 7x7 (one call of 49 either way) keeps the vector quantum: with this quantum 960 -> 320
 * and 512 -> 128 took 1.00-1.03. */
static int gemm_whole_calls(const gconv_kernel_info *gk, int64_t pixels) {
    const int64_t call = gk->nr + gk->nr_edge;
    return gk->nr_edge > 0 && pixels > call && pixels % GEMM_TILE_QUANTUM != 0 && pixels % call == 0;
}

/* Pixel tile for the im2col path: as many NR-wide column blocks as keep the
 * packed K x tile block within ~64 KiB (L2-resident while all M panels pass). */
static int64_t gemm_tile_width(const gconv_conv_plan *p, int64_t pixels) {
    const gconv_kernel_info *gk = p->gemm_kernel;
    const int64_t nr = gemm_whole_calls(gk, pixels) ? gk->nr + gk->nr_edge : gk->nr;
    const int64_t pixels_up = (pixels + nr - 1) / nr * nr;
    if (p->direct_1x1) {
        /* Four kernel widths; more where K is so small that a K x tile block of the input still
         * fits in 48 KB: each panel's calls then stream longer runs of the input and output rows
         * (16 -> 96 at 112x112: 768 pixels ran 1.13x faster than 192; no change at K >= 24). */
        int64_t blocks = (48 * 1024 / (int64_t)sizeof(float)) / (p->kdim * nr);
        if (blocks < 4) blocks = 4;
        if (blocks > 16) blocks = 16;
        return pixels_up < blocks * nr ? pixels_up : blocks * nr;
    }
    int64_t blocks = (64 * 1024 / (int64_t)sizeof(float)) / (p->kdim * nr);
    if (blocks < 1) blocks = 1;
    const int64_t w = blocks * nr;
    return w < pixels_up ? w : pixels_up;
}

static inline int64_t ceil_div_nonneg(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* dst[r] = src[ix0 + r*stride] where that index lies in [0, width), else 0, for r < run.
 * The valid r form one interval, found arithmetically so the copy has no branches. */
static void copy_row_run(const float *src, int64_t width, int64_t ix0, int64_t stride, float *dst, int64_t run) {
    int64_t lo = ix0 >= 0 ? 0 : ceil_div_nonneg(-ix0, stride);
    int64_t hi = ix0 >= width ? 0 : ceil_div_nonneg(width - ix0, stride);
    if (lo > run) lo = run;
    if (hi > run) hi = run;
    if (hi < lo) hi = lo;
    memset(dst, 0, (size_t)lo * sizeof(float));
    if (hi == lo) {
        /* nothing inside the row */
    } else if (stride == 1) {
        memcpy(dst + lo, src + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
    } else if (stride == 2) {
        /* a constant stride GCC vectorizes (even lanes of pairs of vectors): the stride-2 stem
         * convs' im2col was half of their time */
        const float *GCONV_RESTRICT s = src + ix0 + lo * 2;
        float *GCONV_RESTRICT d = dst + lo;
        for (int64_t r = 0; r < hi - lo; r++) d[r] = s[2 * r];
    } else {
        const float *s = src + ix0 + lo * stride;
        for (int64_t r = lo; r < hi; r++, s += stride) dst[r] = *s;
    }
    memset(dst + hi, 0, (size_t)(run - hi) * sizeof(float));
}

/* Gathers the K x nt block of the virtual im2col matrix for pixels [p0, p0+nt). */
static void im2col_tile(const gconv_conv_desc *d, const gconv_conv_geom *g, const float *x_group,
                        int64_t cin_g, int64_t p0, int64_t nt, float *dst, int64_t ld) {
    const int64_t in_plane = g->in_h * g->in_w;
    for (int64_t ci = 0; ci < cin_g; ci++) {
        const float *plane = x_group + ci * in_plane;
        for (int64_t ky = 0; ky < d->kernel_h; ky++) {
            for (int64_t kx = 0; kx < d->kernel_w; kx++, dst += ld) {
                int64_t oy = p0 / g->out_w, ox = p0 % g->out_w;
                for (int64_t t = 0; t < nt; oy++, ox = 0) {
                    int64_t run = g->out_w - ox;
                    if (run > nt - t) run = nt - t;
                    const int64_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    if (iy < 0 || iy >= g->in_h) {
                        memset(dst + t, 0, (size_t)run * sizeof(float));
                    } else {
                        copy_row_run(plane + iy * g->in_w, g->in_w,
                                     ox * d->stride_w - d->pad_left + kx * d->dilation_w, d->stride_w,
                                     dst + t, run);
                    }
                    t += run;
                }
            }
        }
    }
}

typedef struct {
    int64_t tile; /* the widest pixel tile (the im2col scratch's row length) */
    int64_t n_tiles, m_chunks, panels_per_chunk, items;
    int64_t head; /* 1x1 direct: pixels before the first one on a cache line of every input plane */
    int64_t quantum; /* tiles start on multiples of this (+ head): see gemm_whole_calls */
} gemm_schedule;

/* Per-thread scratch: the im2col tile (a 1x1 direct GEMM reads its input in place). */
static size_t gemm_thread_scratch_bytes(const gconv_conv_plan *p, const gemm_schedule *s) {
    if (p->direct_1x1) return 0;
    return gconv_align_bytes((size_t)p->kdim * (size_t)s->tile * sizeof(float));
}

static int64_t gemm_tile_start(const gemm_schedule *s, int64_t pixels, int64_t tile_idx) {
    if (tile_idx >= s->n_tiles) return pixels;
    if (tile_idx == 0) return 0;
    const int64_t q = pixels / s->n_tiles, r = pixels % s->n_tiles; /* tile_idx * pixels might overflow */
    const int64_t start = (tile_idx * q + tile_idx * r / s->n_tiles) / s->quantum * s->quantum + s->head;
    return start < pixels ? start : pixels;
}

/* A 1x1 direct GEMM loads its B rows (input planes) 16 pixels at a time. NumPy puts large arrays
 * 16 bytes into a cache line, so every one of those loads would straddle two lines: where the
 * planes are whole vectors apart (56x56, 28x28), the tiles and column blocks start `head` pixels
 * in instead, on a line of every plane. pw1x1_144to24_56: 0.151 -> 0.136 ms at 1 thread. The
 * kernels sum every column in the same order in any block, so the bits do not change.
 * The head is one more kernel call per plane and panel (a partial vector, and mr more broadcasts
 * per k), which small planes cannot repay: input 4 floats past a line, 1 thread, time over an
 * aligned input's with the head / without: 960 -> 320 at 6x8 1.58 / 1.09, 8x8 1.39 / 1.17;
 * 512 -> 128 at 8x12 1.29 / 1.12; 256 -> 256 at 8x16 1.21 / 1.13; 256 -> 128 at 16x16 1.09 / 1.13;
 * 96 -> 576 at 14x16 1.11 / 1.14; 144 -> 24 at 56x56 1.01 / 1.21. With AVX2 (32-byte loads, half
 * of which split) it gained at most 3% anywhere and lost up to 1.45x (960 -> 320 at 6x8; 144 -> 24
 * at 56x56 took 1.01 with it, 0.90 without), so only AVX-512 tiles take it. */
#define GEMM_HEAD_MIN_PIXELS 192

static int64_t gemm_align_head(const gconv_conv_plan *p, const gconv_conv_geom *g, const float *x) {
    const uintptr_t addr = (uintptr_t)x;
    const int64_t plane = g->in_h * g->in_w;
    if (!x || !p->direct_1x1 || p->gemm_kernel->isa != GCONV_ISA_AVX512 || plane < GEMM_HEAD_MIN_PIXELS ||
        plane % GEMM_TILE_QUANTUM != 0 || addr % sizeof(float) != 0)
        return 0;
    const int64_t lead = (int64_t)(addr / sizeof(float) % GEMM_TILE_QUANTUM);
    return (GEMM_TILE_QUANTUM - lead) % GEMM_TILE_QUANTUM;
}

/* On more than one thread, a 1x1 that widens its input (batch 1, one group, input at most this
 * size) splits its output channels among the threads instead of its pixels, the way the depthwise
 * layer that usually reads such an output splits its planes (dw_run: thread t of T gets planes
 * [t*C/T, (t+1)*C/T); here chunk t of T panels, the same planes where C/T is a multiple of the
 * panel height). With a pixel split half of every plane the depthwise thread reads was written
 * by the other core, and on this machine a line from the other core's L2 costs more than one
 * from L3; a channel split instead makes each thread read all of the input, which is smaller
 * than the output and small enough to stay cached. 2 threads, AVX-512, networks in one process,
 * the same bits: mobilefacenet 0.972 of its time, mobilenet_v2 0.986, mobilenet_v1 0.998,
 * ShuffleNets 0.999; mobilefacenet's 128x28x28 depthwise steps 0.66-0.77; alone, 24 -> 144 at
 * 56x56 0.93, the other expansions 0.99-1.00. Larger inputs lost (mobilenet_v1's 32 -> 64 at
 * 112x112, 1.6 MB: 1.16 for the 1x1, 0.91 for its depthwise), and with AVX2 (whose 6-row panels
 * do not end where the depthwise shares do, and whose kernels take twice as long per byte)
 * networks took 1.001-1.014, so only AVX-512 tiles split this way. */
#define GEMM_CHANNEL_SPLIT_MAX_INPUT_BYTES ((int64_t)512 << 10)

/* A 1x1 that does not widen (a projection after a depthwise layer, 232 -> 232) splits its output
 * channels the same way where its input is at most this size and its weights at least half its
 * input. Its input is the larger side, and under a pixel split each thread reads all the weights
 * and half of every plane, half of that from the other core; under a channel split all the input,
 * half from the other core. 2 threads, AVX-512, in one process (the rule toggled per call), time
 * with it over without: 256 -> 128 at 14x14 0.924-0.930, 232 -> 232 at 14x14 0.953, 576 -> 160 at
 * 7x7 0.931-0.945, 960 -> 320 0.989-0.995; networks mobilefacenet 0.984-0.991, mobilenet_v2
 * 0.995-0.998, shufflenet_v2 0.994-1.000, mobilenet_v1 and shufflenet_v1_g3 1.000. Past the limits
 * it lost: 128 -> 64 at 28x28 (400 KB) took 1.11-1.16 in mobilefacenet, 192 -> 64 at 14x14 (weights
 * a third of the input) 1.08 in mobilenet_v2. */
#define GEMM_CHANNEL_SPLIT_MAX_NARROWING_INPUT_BYTES ((int64_t)256 << 10)

static int gemm_splits_channels(const gconv_conv_plan *p, const gconv_conv_geom *g, int threads) {
    if (!(threads > 1 && p->direct_1x1 && p->gemm_kernel->isa == GCONV_ISA_AVX512 && g->batch == 1 &&
          p->desc.groups == 1 && p->panels_per_group >= threads))
        return 0;
    const int64_t input = p->cin_g * g->in_h * g->in_w;
    if (p->cout_g > p->cin_g) return input <= GEMM_CHANNEL_SPLIT_MAX_INPUT_BYTES / (int64_t)sizeof(float);
    return input <= GEMM_CHANNEL_SPLIT_MAX_NARROWING_INPUT_BYTES / (int64_t)sizeof(float) &&
           2 * p->kdim * p->cout_g >= input;
}

/* x: the input, for gemm_align_head (NULL where only the scratch size is wanted). */
static gemm_schedule gemm_plan_schedule(const gconv_conv_plan *p, const gconv_conv_geom *g, int threads,
                                        const float *x) {
    gemm_schedule s;
    s.head = gemm_align_head(p, g, x);
    const int64_t pixels = g->out_h * g->out_w;
    s.quantum = gemm_whole_calls(p->gemm_kernel, pixels) ? p->gemm_kernel->nr + p->gemm_kernel->nr_edge
                                                         : GEMM_TILE_QUANTUM;
    const int64_t widest = gemm_tile_width(p, pixels);
    s.n_tiles = (pixels + widest - 1) / widest;
    /* Whole tiles per thread where the tiles stay at least two kernel widths wide; below that
     * the output-channel split below balances the threads without narrowing the tiles. */
    const int64_t balanced = (s.n_tiles + threads - 1) / threads * threads;
    if (threads > 1 && pixels / balanced >= 2 * p->gemm_kernel->nr) s.n_tiles = balanced;
    s.tile = (pixels + s.n_tiles - 1) / s.n_tiles + s.quantum;
    const int64_t base = g->batch * p->desc.groups * s.n_tiles;
    /* Few groups and few pixels (e.g. 7x7 pointwise): split output channels too, unless the
     * (group, tile) items already share out evenly and a group's weights are smaller than its
     * input. Each thread reads all the input of the groups it touches under a channel split, and
     * all of their weights under a tile split: the split that duplicates the smaller of the two
     * wins. ShuffleNet's g=3 1x1s at 14x14 (3 groups x 2 tiles, weights 1/5 of the input) were
     * slower on 2 threads than on 1 with the channel split (480 -> 120: 0.037 -> 0.040 ms);
     * shufflenet_v1_g3 on 2 threads took 0.88 of its time without it, mobilefacenet 0.98
     * (its 128 -> 64 projections at 28x28), the others unchanged. */
    s.m_chunks = 1;
    const int tiles_share_evenly = threads > 1 && base % threads == 0 &&
                                   p->kdim * p->cout_g < p->cin_g * g->in_h * g->in_w;
    const int splits_channels = gemm_splits_channels(p, g, threads);
    /* A non-widening 1x1 that splits its channels takes one chunk per thread even where the
     * finer split would apply: its rounded chunks gave 576 -> 160 at 7x7 9 panels on one thread and
     * 11 on the other. (Widening 7x7s keep the finer split: 464 -> 1024 took 1.02-1.04 in
     * shufflenet_v2 with one chunk per thread.) */
    const int few_items = threads > 1 && !tiles_share_evenly && base > 0 && base < 4 * (int64_t)threads &&
                          !(splits_channels && p->cout_g <= p->cin_g);
    if (few_items) {
        s.m_chunks = (4 * (int64_t)threads + base - 1) / base;
        if (s.m_chunks > p->panels_per_group) s.m_chunks = p->panels_per_group;
    } else if (splits_channels) {
        s.m_chunks = threads; /* items run chunk-major, so thread t's share is chunk t */
    }
    s.panels_per_chunk = (p->panels_per_group + s.m_chunks - 1) / s.m_chunks;
    s.m_chunks = (p->panels_per_group + s.panels_per_chunk - 1) / s.panels_per_chunk;
    s.items = base * s.m_chunks;
    return s;
}

/* Where the few-pixel kernel takes over: the pixels past the last whole GEMM_TILE_QUANTUM vector,
 * when there are few enough and the wide kernel's edge columns cannot take them (those need
 * whole vectors before them). A one-pixel kernel takes up to GEMV_MAX_PIXELS - 1 (four of its
 * calls cost what one masked wide vector does), a wider one up to its width. The split depends
 * on the pixel count alone, never on the tiles, so a pixel gets the same kernel (and bits) at
 * every thread count: the wide kernel's columns all sum in the same order, whichever of its
 * forms (whole, masked or edge) computes them. */
static int64_t gemm_narrow_from(const gconv_kernel_info *wide, const gconv_kernel_info *narrow, int64_t pixels) {
    if (!narrow || gemm_whole_calls(wide, pixels)) return pixels;
    const int64_t rest = pixels % GEMM_TILE_QUANTUM;
    if (rest <= wide->nr_edge && pixels > rest) return pixels;
    const int64_t most = narrow->nr > 1 ? narrow->nr : GEMV_MAX_PIXELS - 1;
    return rest <= most ? pixels - rest : pixels;
}

/* A 1x1 direct GEMM's first panel of each pixel tile reads the tile's input from wherever it is;
 * the later panels find it in L2. Where a group's input is larger than L2 can keep (over 1 MiB: a
 * 2 MB L2 also holds the output), that first pass waits on L3, and the -prfm tile fetches the next
 * block of columns into L2 while it computes this one. One layer at 56x56, 1 thread, one process:
 * 144 -> 24 (1.8 MB, pw1x1_144to24_56) took 0.91 of the plain tile's time, 144 -> 48 0.97,
 * 96 -> 24 0.98. Without the size limit, 1x1s whose input fits L2 lost up to 12% (384 -> 64 at
 * 14x14, -prfm on every panel) and networks 3-4% (MobileNet V1, ShuffleNet V1 g3, first panel
 * only); with it, networks and 2 threads are unchanged (0.98-1.01: in a network the producer
 * leaves much of the input in L2). */
#define GEMM_PRFM_MIN_INPUT_BYTES ((int64_t)1 << 20)

static int gemm_streams_input(const gconv_conv_plan *p, const gconv_conv_geom *g) {
    return p->prfm_kernel && p->cin_g * g->in_h * g->in_w > GEMM_PRFM_MIN_INPUT_BYTES / (int64_t)sizeof(float);
}

/* Output pixels [p0, p0 + nt) of group grp of batch item n, output-channel panels
 * [panel_begin, panel_end), through GEMM microkernel gk (panels in p->packed) and, past
 * gemm_narrow_from, the few-pixel kernel `narrow` (NULL: gk throughout): the B block is the input
 * itself (1x1 direct) or its im2col in scratch (row stride ld >= nt). out: pixel p0 of
 * panel_begin's first channel, the next channels out_stride floats apart (in y, or in a buffer of
 * only these channels and pixels). */
static void gemm_pixels(const gconv_conv_plan *p, const gconv_kernel_info *gk, const gconv_kernel_info *narrow,
                        const run_ctx *rc, const gconv_conv_geom *g, int64_t n, int64_t grp, int64_t p0, int64_t nt,
                        int64_t ld, int64_t panel_begin, int64_t panel_end, int64_t head, const float *x, float *out,
                        int64_t out_stride, float *scratch) {
    const gconv_conv_desc *d = &p->desc;
    const int64_t pixels = g->out_h * g->out_w, in_plane = g->in_h * g->in_w;
    const float *x_group = x + (n * d->c_in + grp * p->cin_g) * in_plane;
    const float *b;
    size_t b_stride;
    if (p->direct_1x1) {
        b = x_group + p0;
        b_stride = (size_t)in_plane;
    } else {
        im2col_tile(d, g, x_group, p->cin_g, p0, nt, scratch, ld);
        b = scratch;
        b_stride = (size_t)ld;
    }
    /* calls of nr columns, the last up to nr_edge more (a 7x7's 49th pixel); or all of the quantum's */
    const int whole_calls = gemm_whole_calls(gk, pixels);
    const int64_t mr = gk->mr, nr = whole_calls ? gk->nr + gk->nr_edge : gk->nr, edge = whole_calls ? 0 : gk->nr_edge;
    /* A few pixels (a Linear layer, an SE block's 1x1 convs, the last 4 of a 10x10) would waste
     * most of a wide kernel's vector: the few-pixel kernel vectorizes over output channels
     * instead. */
    int64_t wide_end = gemm_narrow_from(gk, narrow, pixels) - p0;
    if (wide_end > nt) wide_end = nt;
    if (wide_end < 0) wide_end = 0;
    const int streams = gemm_streams_input(p, g); /* (only a 1x1 direct plan has a prfm_kernel) */
    for (int64_t panel = panel_begin; panel < panel_end; panel++) {
        const float *w = p->packed + (grp * p->panels_per_group + panel) * p->panel_floats;
        const int64_t m0 = panel * mr;
        const size_t rows = (size_t)(p->cout_g - m0 < mr ? p->cout_g - m0 : mr);
        float *c = out + (m0 - panel_begin * mr) * out_stride;
        const gconv_gemm_ukernel_fn gemm = streams && panel == panel_begin ? p->prfm_kernel->gemm : gk->gemm;
        for (int64_t j = 0, cols; j < wide_end; j += cols) {
            cols = j == 0 && head ? head : wide_end - j <= nr + edge ? wide_end - j : nr;
            if (cols > wide_end - j) cols = wide_end - j;
            gemm(rows, (size_t)cols, (size_t)p->kdim, w, b + j, b_stride, c + j, (size_t)out_stride, rc->kernel_clamp);
        }
        for (int64_t j = wide_end; j < nt; j += narrow->nr) {
            const size_t cols = (size_t)(nt - j < narrow->nr ? nt - j : narrow->nr);
            narrow->gemm(rows, cols, (size_t)p->kdim, w, b + j, b_stride, c + j, (size_t)out_stride, rc->kernel_clamp);
        }
        apply_epilogue(p, rc, c, grp * p->cout_g + m0, (int64_t)rows, out_stride, nt);
    }
}

static void gemm_run_item(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g,
                          const gemm_schedule *s, int64_t item, const float *x, float *y, float *scratch) {
    const gconv_conv_desc *d = &p->desc;
    const int64_t pixels = g->out_h * g->out_w;
    /* The channel chunk varies slowest: a thread's contiguous share of items is the same
     * chunks of every tile, so unequal tiles or groups do not unbalance the threads. */
    const int64_t base = s->items / s->m_chunks;
    const int64_t chunk = item / base;
    int64_t rest = item % base;
    const int64_t tile_idx = rest % s->n_tiles;
    rest /= s->n_tiles;
    const int64_t grp = rest % d->groups, n = rest / d->groups;
    const int64_t p0 = gemm_tile_start(s, pixels, tile_idx);
    const int64_t nt = gemm_tile_start(s, pixels, tile_idx + 1) - p0;
    const int64_t panel_begin = chunk * s->panels_per_chunk;
    int64_t panel_end = panel_begin + s->panels_per_chunk;
    if (panel_end > p->panels_per_group) panel_end = p->panels_per_group;
    /* the first tile's first block ends where the aligned ones begin */
    gemm_pixels(p, p->gemm_kernel, p->narrow_kernel, rc, g, n, grp, p0, nt, s->tile, panel_begin, panel_end,
                p0 == 0 ? s->head : 0, x,
                y + (n * d->c_out + grp * p->cout_g + panel_begin * p->gemm_kernel->mr) * pixels + p0, pixels, scratch);
}

/* ------------------------------------------------------------- Winograd */

/* Tiles per work item: the item's transformed input (36 x cin_g x tiles) and one panel's
 * transformed output (36 x MR x tiles) should stay in L2 with the weights streaming by. */
#define WINO_BLOCK_BYTES (384 * 1024)
#define WINO_MAX_TILES 128   /* slots */
#define WINO_BLOCK_OVERHEAD 8 /* GEMM columns' worth of per-block cost (the transformed weights' reload) */

/* m, r of the plan's F(m x m, r x r) transforms */
#define WINO_MR(p) (p)->kernel->mr, (p)->kernel->kernel_h

typedef struct {
    int64_t tiles_h, tiles_w, tiles; /* m x m output tiles */
    int64_t block, stride;           /* tiles per item; their row stride in scratch (multiple of 16) */
    int64_t blocks, items;           /* items = batch * groups * blocks */
} wino_schedule;

/* Columns of GEMM work a block's slots cost: the wide kernel computes whole NR-column tiles. */
static int64_t wino_block_cost(const gconv_conv_plan *p, int64_t slots) {
    const int64_t nr = p->gemm_kernel->nr;
    return (slots + nr - 1) / nr * nr + WINO_BLOCK_OVERHEAD;
}

static wino_schedule wino_plan_schedule(const gconv_conv_plan *p, const gconv_conv_geom *g, int threads) {
    wino_schedule s;
    const int64_t m = p->kernel->mr;
    s.tiles_h = (g->out_h + m - 1) / m;
    s.tiles_w = (g->out_w + m - 1) / m;
    s.tiles = s.tiles_h * s.tiles_w;
    const int lanes = p->kernel->nr;
    const int64_t per_slot = GCONV_WINO_POINTS * (p->cin_g + p->gemm_kernel->mr) * (int64_t)sizeof(float);
    int64_t cap = WINO_BLOCK_BYTES / per_slot;
    if (cap > WINO_MAX_TILES) cap = WINO_MAX_TILES;
    if (cap < 16) cap = 16;
    const int64_t units = g->batch * p->desc.groups;
    /* Blocks of whole tile rows keep the slot groups full (a block that starts or ends inside a
     * row adds a part-empty group); pick the row count with the least work on the busiest
     * thread (static contiguous shares, as gconv_team_share), the scratch within the cache budget. */
    int64_t best_rows = 0, best_cost = 0;
    for (int64_t rows = 1; rows <= s.tiles_h; rows++) {
        const int64_t slots = gconv_wino_slots(0, rows * s.tiles_w, s.tiles_w, lanes, WINO_MR(p));
        if (slots > cap) break; /* (even one row too wide: blocks of tiles instead, below) */
        const int64_t blocks = (s.tiles_h + rows - 1) / rows;
        const int64_t last_rows = s.tiles_h - (blocks - 1) * rows;
        const int64_t full = wino_block_cost(p, slots);
        const int64_t last = wino_block_cost(p, gconv_wino_slots(0, last_rows * s.tiles_w, s.tiles_w, lanes, WINO_MR(p)));
        /* items = units * blocks, thread t gets [t*items/T, (t+1)*items/T): bound the busiest by
         * its item count times the full cost (the short last block helps only the last thread) */
        const int64_t items = units * blocks, team = threads < items ? threads : items;
        const int64_t per_thread = (items + team - 1) / team;
        const int64_t cost = team > 1 ? per_thread * full : units * ((blocks - 1) * full + last);
        if (!best_rows || cost < best_cost) {
            best_rows = rows;
            best_cost = cost;
        }
    }
    if (best_rows) {
        s.block = best_rows * s.tiles_w;
    } else {
        /* a tile row takes more slots than fit: blocks of whole 16-tile runs */
        s.block = cap / 16 * 16;
    }
    s.blocks = (s.tiles + s.block - 1) / s.block;
    /* the most slots a block takes (the layout in gconv.h) */
    int64_t slots = 0;
    for (int64_t blk = 0; blk < s.blocks; blk++) {
        const int64_t t0 = blk * s.block, t1 = t0 + s.block < s.tiles ? t0 + s.block : s.tiles;
        const int64_t n = gconv_wino_slots(t0, t1, s.tiles_w, lanes, WINO_MR(p));
        if (n > slots) slots = n;
        if (best_rows) break; /* blocks of whole rows: the first is the largest */
    }
    s.stride = (slots + 15) / 16 * 16;
    s.items = units * s.blocks;
    return s;
}

/* Floats between the transform points' matrices in scratch: one cache line more than they
 * need, so that the 36 rows one transform writes (or reads) do not all map to one L1 set
 * when the matrix size is a multiple of 4 KiB. */
static size_t wino_xi_stride(int64_t rows, const wino_schedule *s) { return (size_t)(rows * s->stride + 16); }

static size_t wino_thread_scratch_floats(const gconv_conv_plan *p, const wino_schedule *s) {
    /* V (36 x cin_g x stride), one panel's M (36 x MR x stride); the same space hosts the im2col
     * block of the direct path (kdim x a row run of at most m * stride pixels) */
    const size_t vm = (size_t)GCONV_WINO_POINTS * (wino_xi_stride(p->cin_g, s) + wino_xi_stride(p->gemm_kernel->mr, s));
    const size_t direct = (size_t)p->kdim * (size_t)p->kernel->mr * (size_t)s->stride;
    return vm > direct ? vm : direct;
}

static void wino_run_item(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g,
                          const wino_schedule *s, int64_t item, const float *x, float *y, float *scratch) {
    const gconv_conv_desc *d = &p->desc;
    const int64_t blk = item % s->blocks, grp = (item / s->blocks) % d->groups, n = item / (s->blocks * d->groups);
    const int64_t t_begin = blk * s->block, t_end = t_begin + s->block < s->tiles ? t_begin + s->block : s->tiles;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const int64_t tile = p->kernel->mr;
    const gconv_dw_geom dg = {g->in_h, g->in_w, g->out_h, g->out_w, d->kernel_h, d->kernel_w, 1, 1, 1, 1,
                              d->pad_top, d->pad_left};
    const size_t cin_g = (size_t)p->cin_g, stride = (size_t)s->stride;
    const int64_t mr = p->gemm_kernel->mr, nr = p->gemm_kernel->nr;
    const int64_t nt = gconv_wino_slots(t_begin, t_end, s->tiles_w, p->kernel->nr, WINO_MR(p)); /* GEMM columns */
    const size_t v_xi = wino_xi_stride(p->cin_g, s), m_xi = wino_xi_stride(mr, s);
    float *v = scratch, *m = scratch + GCONV_WINO_POINTS * v_xi;
    const float *x_group = x + (n * d->c_in + grp * p->cin_g) * in_plane;
    float *y_group = y + (n * d->c_out + grp * p->cout_g) * out_plane;

    const int direct = p->wino_weights_nonfinite ||
                       p->kernel->wino_in(&dg, cin_g, x_group, (size_t)in_plane, t_begin, t_end, v, v_xi, stride);
    if (direct) {
        /* A NaN/Inf would spread over whole tiles: these outputs go through the plain GEMM, row run by row run. */
        for (int64_t t = t_begin; t < t_end;) {
            const int64_t ty = t / s->tiles_w, tx = t % s->tiles_w;
            const int64_t cnt = s->tiles_w - tx < t_end - t ? s->tiles_w - tx : t_end - t;
            const int64_t ox = tx * tile;
            const int64_t run = g->out_w - ox < cnt * tile ? g->out_w - ox : cnt * tile;
            for (int64_t oy = ty * tile; oy < (ty + 1) * tile && oy < g->out_h; oy++)
                gemm_pixels(p, p->gemm_kernel, NULL, rc, g, n, grp, oy * g->out_w + ox, run, run, 0, p->panels_per_group, 0,
                            x, y + (n * d->c_out + grp * p->cout_g) * g->out_h * g->out_w + oy * g->out_w + ox,
                            g->out_h * g->out_w, scratch);
            t += cnt;
        }
        return;
    }
    const gconv_gemm_ukernel_fn gemm = p->gemm_kernel->gemm;
    for (int64_t panel = 0; panel < p->panels_per_group; panel++) {
        const int64_t m0 = panel * mr;
        const size_t rows = (size_t)(p->cout_g - m0 < mr ? p->cout_g - m0 : mr);
        const float *u = p->wino_u + (grp * p->panels_per_group + panel) * GCONV_WINO_POINTS * p->wino_panel_floats;
        for (int xi = 0; xi < GCONV_WINO_POINTS; xi++, u += p->wino_panel_floats)
            for (int64_t j = 0; j < nt; j += nr) {
                const size_t cols = (size_t)(nt - j < nr ? nt - j : nr);
                gemm(rows, cols, cin_g, u, v + xi * v_xi + j, stride, m + xi * m_xi + j, stride, &no_clamp);
            }
        float *out = y_group + m0 * out_plane;
        p->kernel->wino_out(&dg, rows, m, m_xi, stride, p->wino_bias + grp * p->cout_g + m0, out, (size_t)out_plane,
                            t_begin, t_end, rc->kernel_clamp);
        for (int64_t t = t_begin; t < t_end && (rc->residual || p->act_kernel);) {
            const int64_t ty = t / s->tiles_w, tx = t % s->tiles_w;
            const int64_t cnt = s->tiles_w - tx < t_end - t ? s->tiles_w - tx : t_end - t;
            {
                const int64_t ox = tx * tile;
                const int64_t run = g->out_w - ox < cnt * tile ? g->out_w - ox : cnt * tile;
                for (int64_t oy = ty * tile; oy < (ty + 1) * tile && oy < g->out_h; oy++)
                    apply_epilogue(p, rc, out + oy * g->out_w + ox, grp * p->cout_g + m0, (int64_t)rows, out_plane, run);
            }
            t += cnt;
        }
    }
}

/* -------------------------------------------------------------- dwconv */

/* Depthwise layers smaller than this run on one thread. Work is counted in
 * multiply-adds plus DW_PLANE_COST per plane (the per-channel setup, which is
 * what dominates tiny planes and the 1x1-output GDC case); the kernels do ~40
 * MACs per ns. Measured on the 2-core Xeon (AVX-512) this was tuned on: with
 * warm OpenMP workers a second thread costs ~1 us to fork and join, and it
 * paid off from ~2.5 us of work (3x3 on 14x14: 32 channels 2T/1T = 1.21,
 * 64 channels 0.88, 128 channels 0.67; 7x7 GDC: 512 channels 0.88, 1024
 * channels 0.69). Through the Python layer, where calls have gaps, 512-channel
 * GDC was slower on 2 threads (4.2 vs 6.1 us), so the cut is at ~3.3 us. */
#define DW_MIN_PARALLEL_WORK 131072
#define DW_PLANE_COST 128

/* Threads worth using for this geometry (1 when the layer is too small). */
static int dw_threads(const gconv_conv_plan *p, const gconv_conv_geom *g, int num_threads) {
    if (num_threads <= 1) return 1;
    const double planes = (double)g->batch * (double)p->desc.c_out;
    const double work = planes * ((double)g->out_h * (double)g->out_w * (double)p->kdim + DW_PLANE_COST);
    if (work < (double)DW_MIN_PARALLEL_WORK) return 1;
    const int64_t units = g->batch * p->desc.c_out * g->out_h;
    return units < num_threads ? (int)units : num_threads;
}

/* The kernel covers the whole input without padding: every channel is one dot
 * product over its plane (global depthwise conv, e.g. 7x7 on 7x7). */
static int dw_is_global(const gconv_conv_plan *p, const gconv_conv_geom *g) {
    const gconv_conv_desc *d = &p->desc;
    return p->gdc_kernel && g->in_h == d->kernel_h && g->in_w == d->kernel_w && d->pad_top == 0 &&
           d->pad_bottom == 0 && d->pad_left == 0 && d->pad_right == 0 &&
           (d->kernel_h == 1 || d->dilation_h == 1) && (d->kernel_w == 1 || d->dilation_w == 1);
}

const char *gconv_conv_plan_kernel_name_for(const gconv_conv_plan *p, const gconv_conv_geom *g) {
    return p->algo == GCONV_ALGO_DWCONV && dw_is_global(p, g) ? p->gdc_kernel->name : gconv_conv_plan_kernel_name(p);
}

/* Row chunks per plane: 1 when there are enough planes to share out, else
 * enough chunks for ~4 per thread, in multiples of 8 rows (the specialized
 * kernels' passes are 8 or 16 rows) so that chunk borders split few passes. */
/* Row chunks per unit of work so that there are ~4 work items per thread. */
static int64_t split_rows(int64_t units, int64_t out_h, int threads) {
    if (threads <= 1 || units == 0 || units >= 4 * (int64_t)threads) return 1;
    const int64_t chunks = (4 * (int64_t)threads + units - 1) / units;
    return chunks > out_h ? out_h : chunks;
}

static int64_t dw_row_chunks(const gconv_conv_plan *p, const gconv_conv_geom *g, int threads) {
    const int64_t chunks = split_rows(g->batch * p->desc.c_out, g->out_h, threads);
    int64_t rows_per = (g->out_h + chunks - 1) / chunks;
    if (rows_per > 8) rows_per = (rows_per + 7) / 8 * 8;
    return (g->out_h + rows_per - 1) / rows_per;
}

/* Whole planes [begin, end) (plane = n * c_out + co) through a multi-channel
 * kernel: one call per run of channels that are contiguous in x, y and the
 * packed weights (all of a batch item's channels; with a depth multiplier, the
 * channels that share one input plane). */
static void dw_run_planes(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g,
                          const gconv_dw_geom *dg, int64_t begin, int64_t end, const float *x, float *y) {
    const gconv_conv_desc *d = &p->desc;
    const int64_t multiplier = d->c_out / d->c_in;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const gconv_dw_multi_ukernel_fn ukernel = p->kernel->dw_multi;
    while (begin < end) {
        const int64_t n = begin / d->c_out, co = begin % d->c_out;
        int64_t stop = multiplier == 1 ? (n + 1) * d->c_out : begin + multiplier - co % multiplier;
        if (stop > end) stop = end;
        float *out = y + begin * out_plane;
        ukernel(dg, (size_t)(stop - begin), x + (n * d->c_in + co / multiplier) * in_plane,
                multiplier == 1 ? (size_t)in_plane : 0, p->packed + co * (p->kdim + 1), out, 0, g->out_h,
                rc->kernel_clamp);
        apply_epilogue(p, rc, out, co, stop - begin, out_plane, out_plane);
        begin = stop;
    }
}

/* Items [begin, end) of one thread, item = plane * chunks + chunk. Indices are
 * stepped, not divided out per item: for a 14x14 plane the kernel itself takes
 * only ~100 cycles, so three 64-bit divisions per plane would be a real cost. */
static void dw_run_items(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g,
                         const gconv_dw_geom *dg, int64_t chunks, int64_t begin, int64_t end, const float *x,
                         float *y) {
    if (begin >= end) return;
    if (chunks == 1 && p->kernel->dw_multi) {
        dw_run_planes(p, rc, g, dg, begin, end, x, y);
        return;
    }
    const gconv_conv_desc *d = &p->desc;
    const int64_t multiplier = d->c_out / d->c_in;
    const int64_t rows_per = (g->out_h + chunks - 1) / chunks;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const int64_t wstride = p->kdim + 1;
    const gconv_dw_ukernel_fn ukernel = p->kernel->dw;
    int64_t chunk = begin % chunks, plane = begin / chunks;
    int64_t co = plane % d->c_out, n = plane / d->c_out;
    for (int64_t item = begin; item < end; item++) {
        const int64_t oy0 = chunk * rows_per;
        const int64_t oy1 = oy0 + rows_per < g->out_h ? oy0 + rows_per : g->out_h;
        if (oy0 < oy1) {
            const float *in = x + (n * d->c_in + (multiplier == 1 ? co : co / multiplier)) * in_plane;
            float *out = y + (n * d->c_out + co) * out_plane;
            ukernel(dg, in, p->packed + co * wstride, out, oy0, oy1, rc->kernel_clamp);
            apply_epilogue(p, rc, out + oy0 * g->out_w, co, 1, 0, (oy1 - oy0) * g->out_w);
        }
        if (++chunk == chunks) {
            chunk = 0;
            if (++co == d->c_out) {
                co = 0;
                n++;
            }
        }
    }
}

/* Global depthwise conv over output channels [begin, end) of all batch items
 * (one float per channel): whole runs of channels per kernel call. */
static void dw_run_global(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g, int64_t begin,
                          int64_t end, const float *x, float *y) {
    const gconv_conv_desc *d = &p->desc;
    const int64_t multiplier = d->c_out / d->c_in;
    const int64_t taps = g->in_h * g->in_w, wstride = p->kdim + 1;
    const gconv_gdc_ukernel_fn ukernel = p->gdc_kernel->gdc;
    while (begin < end) {
        const int64_t n = begin / d->c_out, co = begin % d->c_out;
        /* Channels sharing one input plane stride 0 through it; without a
         * multiplier every channel of this batch item is one run. */
        int64_t stop = multiplier == 1 ? d->c_out : (co / multiplier + 1) * multiplier;
        if (stop - co > end - begin) stop = co + (end - begin);
        const float *in = x + (n * d->c_in + co / multiplier) * taps;
        ukernel((size_t)(stop - co), (size_t)taps, in, multiplier == 1 ? (size_t)taps : 0,
                p->packed + co * wstride, y + begin, rc->kernel_clamp);
        apply_epilogue(p, rc, y + begin, co, stop - co, 1, 1);
        begin += stop - co;
    }
}

typedef struct {
    const gconv_conv_plan *p;
    const run_ctx *rc;
    const gconv_conv_geom *g;
    const gconv_dw_geom *dg;
    int global; /* dw_is_global */
    int64_t chunks;
    const float *x;
    float *y;
} dw_loop;

static void dw_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const dw_loop *l = ctx;
    (void)tid;
    if (l->global)
        dw_run_global(l->p, l->rc, l->g, begin, end, l->x, l->y);
    else
        dw_run_items(l->p, l->rc, l->g, l->dg, l->chunks, begin, end, l->x, l->y);
}

static void dw_run(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g, const float *x, float *y,
                   int num_threads) {
    const gconv_conv_desc *d = &p->desc;
    const gconv_dw_geom dg = {g->in_h, g->in_w, g->out_h, g->out_w, d->kernel_h, d->kernel_w,
                              d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left};
    const int threads = dw_threads(p, g, num_threads);
    const int global = dw_is_global(p, g);
    const int64_t chunks = global ? 1 : dw_row_chunks(p, g, threads);
    /* Static contiguous shares: thread t always gets the same planes, so on
     * repeated calls its part of the input and output stays in its own L2. */
    const dw_loop loop = {p, rc, g, &dg, global, chunks, x, y};
    gconv_parallel_for(threads, g->batch * d->c_out * chunks, dw_share, &loop);
}

/* ------------------------------------------- a 1x1 expansion into a depthwise conv */

/* The 1x1 that widens a MobileNet block writes an output several times its input (v2's 16 -> 96 at
 * 112x112: 4.8 MB) and the depthwise conv after it reads that back: both wait on memory. Run
 * together, a work item takes PW_DW_ITEM_CHANNELS or more of the 1x1's output channels and walks
 * down the image in bands of depthwise output rows: the 1x1 writes the intermediate rows a band reads
 * into a per-thread buffer that stays in L2, and the depthwise conv reads them there. The wide
 * tensor is never written. Where an item's whole planes fit the buffer a band is the whole plane.
 * Every item reads all of the 1x1's input again, so that input must stay in L2 as well (at most
 * GEMM_PRFM_MIN_INPUT_BYTES, past which the 1x1 alone streams it), and items of several panels read
 * it a few times rather than once per panel. The kernels see the same operands as in two steps, so
 * the bits are the same. One block, 1 thread, fused time over two steps' in one process: 16 -> 96
 * -> 3x3s2 at 112x112 0.75 (whole planes of one 8-channel panel per item: 0.80, the input read 12
 * times; bands of all 96 channels: 0.79, and at 56x56 such bands lost, 0.98-1.32, with 144 short
 * output segments per band). */
#define PW_DW_BUFFER_BYTES ((int64_t)512 << 10) /* one thread's buffer */
#define PW_DW_ITEM_CHANNELS 32

/* Fusing pays where the wide tensor would not stay in cache between the two steps: each thread's
 * part of it (channel shares) larger than half the L2. One block, in one process, fused time over
 * two steps': 1 thread, 16 -> 96 -> 3x3s2 at 112x112 (4.8 MB) 0.75, 24 -> 144 -> 3x3 at 56x56
 * (1.8 MB) 0.95, its 3x3s2 0.92, 64 -> 128 -> 3x3s2 and 3x3 at 56x56 (1.6 MB) 0.99, but 32 -> 192
 * -> 3x3 at 28x28 (0.6 MB) 1.09 (whole planes); 2 threads, 16 -> 96 at 112x112 0.76, while 24 ->
 * 144 at 56x56 (0.9 MB per thread) took 1.03-1.04. */
#define PW_DW_MIN_THREAD_BYTES ((int64_t)1 << 20)

/* gconv_conv_plan_pw_dw_supported, also giving dw's output size in *gd where it is. */
static int pw_dw_supported_at(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                              gconv_conv_geom *gd) {
    if (!pw || !dw || !g || pw->algo != GCONV_ALGO_GEMM || !pw->direct_1x1 || pw->desc.groups != 1 ||
        !pw->gemm_kernel || pw->pad_taps || dw->algo != GCONV_ALGO_DWCONV || !dw->kernel ||
        dw->desc.c_in != pw->desc.c_out || dw->desc.c_out != dw->desc.c_in || g->batch < 0 || g->in_h < 1 ||
        g->in_w < 1)
        return 0;
    int64_t input;
    if (!gconv_mul_i64(pw->cin_g, g->in_h, &input) || !gconv_mul_i64(input, g->in_w, &input) ||
        input > GEMM_PRFM_MIN_INPUT_BYTES / (int64_t)sizeof(float))
        return 0;
    *gd = (gconv_conv_geom){.batch = g->batch, .in_h = g->in_h, .in_w = g->in_w};
    return gconv_conv_output_size(&dw->desc, gd) == GCONV_OK && !dw_is_global(dw, gd);
}

int gconv_conv_plan_pw_dw_supported(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g) {
    gconv_conv_geom gd;
    return pw_dw_supported_at(pw, dw, g, &gd);
}

int gconv_conv_plan_pw_dw_fuses(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                int num_threads) {
    if (num_threads < 1 || !gconv_conv_plan_pw_dw_supported(pw, dw, g)) return 0;
    /* (the product fits: the input is at most 1 MB, and the channels are a packed weight count) */
    const int64_t share = (pw->desc.c_out + num_threads - 1) / num_threads;
    return share * g->in_h * g->in_w > PW_DW_MIN_THREAD_BYTES / (int64_t)sizeof(float);
}

typedef struct {
    int64_t item_panels, items_per_image; /* panels per work item, items per batch item */
    int64_t band_rows;                    /* depthwise output rows per band (out_h: whole planes) */
    int64_t buffer_rows;                  /* intermediate rows one band reads: the buffer's planes */
    int64_t tile;                         /* 1x1 pixels per call over the item's panels (L1-sized) */
    size_t thread_bytes;                  /* one thread's buffer */
} pw_dw_schedule;

/* Intermediate rows that out_rows consecutive depthwise output rows read, at most. */
static int64_t dw_rows_read_by(const gconv_conv_desc *d, int64_t out_rows, int64_t in_h) {
    const int64_t rows = (out_rows - 1) * d->stride_h + (d->kernel_h - 1) * d->dilation_h + 1;
    return rows < in_h ? rows : in_h;
}

/* Items of PW_DW_ITEM_CHANNELS channels or more (fewer where the panels do not share out evenly
 * among the threads otherwise), the most that fit the buffer as whole planes; bands of as many
 * output rows as the buffer holds for them. */
static pw_dw_schedule pw_dw_plan_schedule(const gconv_conv_plan *pw, const gconv_conv_plan *dw,
                                          const gconv_conv_geom *g, int64_t out_h, int threads) {
    pw_dw_schedule s;
    const int64_t budget = PW_DW_BUFFER_BYTES, min_channels = PW_DW_ITEM_CHANNELS;
    const int64_t mr = pw->gemm_kernel->mr, row_bytes = mr * g->in_w * (int64_t)sizeof(float);
    const int64_t plane_panel_bytes = row_bytes * g->in_h;
    s.item_panels = budget / plane_panel_bytes;
    const int64_t min_panels = (min_channels + mr - 1) / mr;
    if (s.item_panels < min_panels) s.item_panels = min_panels;
    if (s.item_panels > pw->panels_per_group) s.item_panels = pw->panels_per_group;
    /* (2 threads: 12 panels in 3 items of 4 took 1.11x the two steps' time, in 4 items of 3 0.91) */
    const int64_t panels = pw->panels_per_group;
    for (int64_t ip = s.item_panels; ip >= 1 && threads > 1; ip--)
        if (((panels + ip - 1) / ip) % threads == 0) {
            s.item_panels = ip;
            break;
        }
    s.items_per_image = (pw->panels_per_group + s.item_panels - 1) / s.item_panels;
    s.band_rows = out_h;
    while (s.band_rows > 1 && dw_rows_read_by(&dw->desc, s.band_rows, g->in_h) * row_bytes * s.item_panels > budget)
        s.band_rows--;
    s.buffer_rows = dw_rows_read_by(&dw->desc, s.band_rows, g->in_h);
    s.tile = gemm_tile_width(pw, g->in_h * g->in_w);
    const int64_t bytes = s.item_panels * row_bytes * s.buffer_rows;
    s.thread_bytes = gconv_align_bytes((size_t)bytes);
    return s;
}

/* The checks, output size (*gd), schedule and workspace bytes that the workspace query and the run share. */
static gconv_status pw_dw_prepare(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                  int num_threads, gconv_conv_geom *gd, pw_dw_schedule *s, size_t *bytes) {
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive");
    if (!pw_dw_supported_at(pw, dw, g, gd))
        return gconv_fail(GCONV_EINVAL, "these plans and this input size do not run fused");
    *s = pw_dw_plan_schedule(pw, dw, g, gd->out_h, num_threads);
    if ((size_t)num_threads > SIZE_MAX / s->thread_bytes) return gconv_fail(GCONV_EOVERFLOW, "workspace size overflows");
    *bytes = s->thread_bytes * (size_t)num_threads;
    return GCONV_OK;
}

gconv_status gconv_conv_plan_pw_dw_workspace_size(const gconv_conv_plan *pw, const gconv_conv_plan *dw,
                                                  const gconv_conv_geom *g, int num_threads, size_t *bytes) {
    if (!bytes) return gconv_fail(GCONV_EINVAL, "bytes must not be NULL");
    *bytes = 0;
    gconv_conv_geom gd;
    pw_dw_schedule s;
    return pw_dw_prepare(pw, dw, g, num_threads, &gd, &s, bytes);
}

typedef struct {
    const gconv_conv_plan *pw, *dw;
    const run_ctx *pw_rc, *dw_rc;
    const gconv_conv_geom *g_pw;
    const gconv_dw_geom *dg;
    const pw_dw_schedule *s;
    int64_t head;
    const float *x;
    float *y;
    void *workspace;
} pw_dw_loop;

/* Depthwise output rows of the channels of panels [pb, pe) of batch item n, band by band: the 1x1
 * computes the intermediate rows a band reads that the buffer lacks, in L1-sized pixel tiles over the
 * panels, below the rows kept from the band before (moved to the buffer's top); the depthwise kernels
 * take the buffer as a plane of b1 - b0 rows whose row 0 is row b0 (pad_top moved by b0): they read
 * only rows inside it, which hold the same values as in the whole tensor. */
static void pw_dw_item(const pw_dw_loop *l, int64_t n, int64_t pb, int64_t pe, float *mid) {
    const gconv_conv_plan *pw = l->pw, *dw = l->dw;
    const gconv_dw_geom *dg = l->dg;
    const pw_dw_schedule *s = l->s;
    const int64_t in_w = dg->in_w, out_plane = dg->out_h * dg->out_w, c = pw->desc.c_out;
    const int64_t mr = pw->gemm_kernel->mr, c0 = pb * mr, channels = (pe * mr < c ? pe * mr : c) - c0;
    const int64_t ch_stride = s->buffer_rows * in_w, wstride = dw->kdim + 1;
    const float *w = dw->packed + c0 * wstride;
    float *out = l->y + (n * c + c0) * out_plane;
    int64_t b0 = 0, b1 = 0; /* the buffer holds the intermediate's rows [b0, b1) */
    for (int64_t oy0 = 0; oy0 < dg->out_h; oy0 += s->band_rows) {
        const int64_t oy1 = oy0 + s->band_rows < dg->out_h ? oy0 + s->band_rows : dg->out_h;
        int64_t r0, r1;
        gconv_rows_read(oy0, oy1, dg->stride_h, dg->pad_top, (dg->kernel_h - 1) * dg->dilation_h + 1, dg->in_h, &r0,
                        &r1);
        if (r0 >= b1) {
            b0 = b1 = r0;
        } else if (r0 > b0) {
            for (int64_t k = 0; k < channels; k++)
                memmove(mid + k * ch_stride, mid + k * ch_stride + (r0 - b0) * in_w,
                        (size_t)((b1 - r0) * in_w) * sizeof(float));
            b0 = r0;
        }
        for (int64_t p0 = b1 * in_w, p1 = r1 * in_w, nt; p0 < p1; p0 += nt) {
            nt = p1 - p0 < s->tile ? p1 - p0 : s->tile;
            gemm_pixels(pw, pw->gemm_kernel, pw->narrow_kernel, l->pw_rc, l->g_pw, n, 0, p0, nt, 0, pb, pe,
                        p0 == 0 ? l->head : 0, l->x, mid + p0 - b0 * in_w, ch_stride, NULL);
        }
        if (r1 > b1) b1 = r1;
        gconv_dw_geom band = *dg;
        band.in_h = b1 - b0;
        band.pad_top = dg->pad_top + b0;
        if (dw->kernel->dw_multi)
            dw->kernel->dw_multi(&band, (size_t)channels, mid, (size_t)ch_stride, w, out, oy0, oy1,
                                 l->dw_rc->kernel_clamp);
        else
            for (int64_t k = 0; k < channels; k++)
                dw->kernel->dw(&band, mid + k * ch_stride, w + k * wstride, out + k * out_plane, oy0, oy1,
                               l->dw_rc->kernel_clamp);
        apply_epilogue(dw, l->dw_rc, out + oy0 * dg->out_w, c0, channels, out_plane, (oy1 - oy0) * dg->out_w);
    }
}

/* Items [begin, end), item = n * items_per_image + i: panels [i * item_panels, +item_panels) of
 * batch item n. */
static void pw_dw_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const pw_dw_loop *l = ctx;
    float *mid = gconv_scratch_slice(l->workspace, l->s->thread_bytes, tid);
    for (int64_t item = begin; item < end; item++) {
        const int64_t n = item / l->s->items_per_image, pb = item % l->s->items_per_image * l->s->item_panels;
        const int64_t pe = pb + l->s->item_panels;
        pw_dw_item(l, n, pb, pe < l->pw->panels_per_group ? pe : l->pw->panels_per_group, mid);
    }
}

gconv_status gconv_conv_plan_run_pw_dw(const gconv_conv_plan *pw, const gconv_conv_plan *dw, const gconv_conv_geom *g,
                                       const float *x, float *y, void *workspace, size_t workspace_bytes,
                                       int num_threads) {
    GCONV_FPENV_SCOPE();
    size_t need;
    gconv_conv_geom gd;
    pw_dw_schedule s;
    const gconv_status st = pw_dw_prepare(pw, dw, g, num_threads, &gd, &s, &need);
    if (st) return st;
    if (gd.out_h != g->out_h || gd.out_w != g->out_w)
        return gconv_fail(GCONV_EINVAL, "out: expected spatial size %lldx%lld", (long long)gd.out_h,
                          (long long)gd.out_w);
    if (workspace_bytes < need || !workspace || (uintptr_t)workspace % GCONV_ALIGN)
        return gconv_fail(GCONV_EINVAL, "workspace: need %zu aligned bytes", need);
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    if (g->batch == 0) return GCONV_OK;
    const gconv_conv_geom g_pw = {g->batch, g->in_h, g->in_w, g->in_h, g->in_w};
    const gconv_conv_desc *d = &dw->desc;
    const gconv_dw_geom dg = {g->in_h, g->in_w, gd.out_h, gd.out_w, d->kernel_h, d->kernel_w,
                              d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left};
    const run_ctx pw_rc = {&pw->desc.clamp, NULL, NULL}, dw_rc = {&dw->desc.clamp, NULL, y};
    const pw_dw_loop loop = {pw, dw, &pw_rc, &dw_rc, &g_pw, &dg, &s, gemm_align_head(pw, &g_pw, x), x, y, workspace};
    gconv_parallel_for(num_threads, g->batch * s.items_per_image, pw_dw_share, &loop);
    if (dw->pad_taps) gconv_pad_taps_mark(&dw->desc, &gd, dw->pad_taps, dw->pad_tap_count, y);
    return GCONV_OK;
}

/* ------------------------------------------------------- grouped direct */

typedef struct {
    const gconv_conv_plan *p;
    const run_ctx *rc;
    const gconv_conv_geom *g;
    const gconv_dw_geom *dg;
    int64_t chunks, rows_per;
    const float *x;
    float *y;
} grouped_loop;

static void grouped_direct_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const grouped_loop *l = ctx;
    const gconv_conv_plan *p = l->p;
    const gconv_conv_desc *d = &p->desc;
    const gconv_conv_geom *g = l->g;
    const int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    const gconv_gconv_ukernel_fn ukernel = p->kernel->gconv;
    (void)tid;
    for (int64_t item = begin; item < end; item++) {
        const int64_t chunk = item % l->chunks, unit = item / l->chunks;
        const int64_t blk = unit % p->oc_blocks, grp = (unit / p->oc_blocks) % d->groups;
        const int64_t n = unit / (p->oc_blocks * d->groups);
        const int64_t oy0 = chunk * l->rows_per, oy1 = oy0 + l->rows_per < g->out_h ? oy0 + l->rows_per : g->out_h;
        if (oy0 >= oy1) continue;
        const int64_t oc = p->kernel->mr, m0 = blk * oc;
        const size_t cout = (size_t)(p->cout_g - m0 < oc ? p->cout_g - m0 : oc);
        float *out = l->y + (n * d->c_out + grp * p->cout_g + m0) * out_plane;
        ukernel(l->dg, (size_t)p->cin_g, cout, l->x + (n * d->c_in + grp * p->cin_g) * in_plane,
                p->packed + (grp * p->oc_blocks + blk) * p->block_floats, out, oy0, oy1, l->rc->kernel_clamp);
        apply_epilogue(p, l->rc, out + oy0 * g->out_w, grp * p->cout_g + m0, (int64_t)cout, out_plane,
                       (oy1 - oy0) * g->out_w);
    }
}

static void grouped_direct_run(const gconv_conv_plan *p, const run_ctx *rc, const gconv_conv_geom *g,
                               const float *x, float *y, int num_threads) {
    const gconv_conv_desc *d = &p->desc;
    const gconv_dw_geom dg = {g->in_h, g->in_w, g->out_h, g->out_w, d->kernel_h, d->kernel_w,
                              d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->pad_top, d->pad_left};
    const int64_t units = g->batch * d->groups * p->oc_blocks;
    const int64_t chunks = split_rows(units, g->out_h, num_threads);
    const grouped_loop loop = {p, rc, g, &dg, chunks, (g->out_h + chunks - 1) / chunks, x, y};
    gconv_parallel_for(num_threads, units * chunks, grouped_direct_share, &loop);
}

/* An auto-chosen Winograd plan runs the plain GEMM (its panels are in the plan anyway) on
 * geometries where the transforms do not pay: when the transform-domain products (36 per slot,
 * slots including the part-empty groups of short tile rows) are not well below the direct
 * MACs (r*r per pixel), or, at a middling ratio, when the transformed weights of a group (4x
 * the plain ones for 3x3) no longer stay in L2 across blocks. Measured on the 2-core Xeon:
 * 7x7 outputs (ratio 1.3) and 256->256 14x14 (0.65, 9.4 MB) ran 1.7x and 1.3x faster as GEMMs,
 * 32->32 14x14 (0.65, 0.15 MB) 3x faster as Winograd, 28x28 and up (<= 0.45) 2-4x faster. */
#define WINO_MAX_RATIO_3X3 0.8
#define WINO_MAX_RATIO_5X5 1.0 /* a 5x5 GEMM's im2col costs more */
#define WINO_BIG_RATIO 0.5
#define WINO_BIG_U_BYTES (2.0 * 1024 * 1024)

static int wino_runs_gemm(const gconv_conv_plan *p, const gconv_conv_geom *g) {
    if (p->algo != GCONV_ALGO_WINOGRAD || !p->wino_auto) return 0;
    const int64_t m = p->kernel->mr, r = p->desc.kernel_h;
    const int64_t tiles_w = (g->out_w + m - 1) / m, tiles = tiles_w * ((g->out_h + m - 1) / m);
    const double slots = (double)gconv_wino_slots(0, tiles, tiles_w, p->kernel->nr, (int)m, (int)r);
    const double ratio = GCONV_WINO_POINTS * slots / ((double)(r * r) * (double)g->out_h * (double)g->out_w);
    const double u_bytes = GCONV_WINO_POINTS * (double)p->cin_g * (double)p->cout_g * sizeof(float);
    return ratio > (r == 3 ? WINO_MAX_RATIO_3X3 : WINO_MAX_RATIO_5X5) ||
           (ratio > WINO_BIG_RATIO && u_bytes > WINO_BIG_U_BYTES);
}

/* ------------------------------------------------------------------ run */

gconv_status gconv_conv_plan_workspace_size(const gconv_conv_plan *p, const gconv_conv_geom *g_in,
                                            int num_threads, size_t *bytes) {
    gconv_conv_geom g = *g_in;
    gconv_status st = gconv_conv_output_size(&p->desc, &g);
    if (st) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive");
    *bytes = 0;
    if ((p->algo != GCONV_ALGO_GEMM && p->algo != GCONV_ALGO_WINOGRAD) || g.batch == 0)
        return GCONV_OK; /* the schedules divide by the work */
    size_t per;
    if (p->algo == GCONV_ALGO_WINOGRAD && !wino_runs_gemm(p, &g)) {
        const wino_schedule s = wino_plan_schedule(p, &g, num_threads);
        const size_t floats = wino_thread_scratch_floats(p, &s);
        if (floats > SIZE_MAX / 8) return gconv_fail(GCONV_EOVERFLOW, "workspace size overflows");
        per = gconv_align_bytes(floats * sizeof(float));
    } else {
        const gemm_schedule s = gemm_plan_schedule(p, &g, num_threads, NULL);
        per = gemm_thread_scratch_bytes(p, &s);
    }
    if (per && (size_t)num_threads > SIZE_MAX / per) return gconv_fail(GCONV_EOVERFLOW, "workspace size overflows");
    *bytes = per * (size_t)num_threads;
    return GCONV_OK;
}

gconv_status gconv_conv_plan_run(const gconv_conv_plan *p, const gconv_conv_geom *g_in, const float *x,
                                 float *y, void *workspace, size_t workspace_bytes, int num_threads) {
    return gconv_conv_plan_run_residual(p, g_in, x, NULL, y, workspace, workspace_bytes, num_threads);
}

/* One Winograd or GEMM run: the schedule, the operands and the per-thread scratch. */
typedef struct {
    const gconv_conv_plan *p;
    const run_ctx *rc;
    const gconv_conv_geom *g;
    const wino_schedule *wino;
    const gemm_schedule *gemm;
    const float *x;
    float *y;
    void *workspace;
    size_t scratch_bytes; /* per thread */
} tiled_loop;

static void wino_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const tiled_loop *l = ctx;
    float *scratch = gconv_scratch_slice(l->workspace, l->scratch_bytes, tid);
    for (int64_t item = begin; item < end; item++) wino_run_item(l->p, l->rc, l->g, l->wino, item, l->x, l->y, scratch);
}

static void gemm_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const tiled_loop *l = ctx;
    float *scratch = l->scratch_bytes ? gconv_scratch_slice(l->workspace, l->scratch_bytes, tid) : NULL;
    for (int64_t item = begin; item < end; item++) gemm_run_item(l->p, l->rc, l->g, l->gemm, item, l->x, l->y, scratch);
}

static gconv_status run_residual(const gconv_conv_plan *p, const gconv_conv_geom *g_in, const float *x,
                                 const float *residual, float *y, void *workspace, size_t workspace_bytes,
                                 int num_threads) {
    gconv_conv_geom g = *g_in;
    gconv_status st = gconv_conv_output_size(&p->desc, &g);
    if (st) return st;
    if (g.out_h != g_in->out_h || g.out_w != g_in->out_w)
        return gconv_fail(GCONV_EINVAL, "out: expected spatial size %lldx%lld", (long long)g.out_h, (long long)g.out_w);
    size_t need;
    if ((st = gconv_conv_plan_workspace_size(p, &g, num_threads, &need))) return st;
    if (workspace_bytes < need || (need && (!workspace || ((uintptr_t)workspace % GCONV_ALIGN))))
        return gconv_fail(GCONV_EINVAL, "workspace: need %zu aligned bytes", need);
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    if (g.batch == 0) return GCONV_OK;
    const run_ctx ctx = {residual ? &no_clamp : &p->desc.clamp, residual, y}, *rc = &ctx;

    if (p->algo == GCONV_ALGO_REFERENCE) {
        /* The reference clamps inside; with a residual it must not, so it runs on an unclamped copy of the desc. */
        gconv_conv_desc unclamped = p->desc;
        unclamped.clamp = *rc->kernel_clamp;
        gconv_conv2d_reference(&unclamped, &g, x, p->packed, p->ref_bias, y, num_threads);
        for (int64_t n = 0; n < g.batch; n++)
            apply_epilogue(p, rc, y + n * p->desc.c_out * g.out_h * g.out_w, 0, p->desc.c_out, g.out_h * g.out_w,
                           g.out_h * g.out_w);
        return GCONV_OK;
    }
    if (p->algo == GCONV_ALGO_GROUPED_DIRECT) {
        grouped_direct_run(p, rc, &g, x, y, num_threads);
        return GCONV_OK;
    }
    if (p->algo == GCONV_ALGO_DWCONV) {
        dw_run(p, rc, &g, x, y, num_threads);
        return GCONV_OK;
    }
    if (p->algo == GCONV_ALGO_WINOGRAD && !wino_runs_gemm(p, &g)) {
        const wino_schedule s = wino_plan_schedule(p, &g, num_threads);
        const tiled_loop loop = {p, rc, &g, &s, NULL, x, y, workspace, need / (size_t)num_threads};
        gconv_parallel_for(num_threads, s.items, wino_share, &loop);
        return GCONV_OK;
    }
    /* (x moves only the schedule's head: the tiles and chunks, and so the scratch, are the query's) */
    const gemm_schedule s = gemm_plan_schedule(p, &g, num_threads, x);
    const tiled_loop loop = {p, rc, &g, NULL, &s, x, y, workspace, need / (size_t)num_threads};
    gconv_parallel_for(num_threads, s.items, gemm_share, &loop);
    return GCONV_OK;
}

gconv_status gconv_conv_plan_run_residual(const gconv_conv_plan *p, const gconv_conv_geom *g, const float *x,
                                          const float *residual, float *y, void *workspace,
                                          size_t workspace_bytes, int num_threads) {
    GCONV_FPENV_SCOPE();
    const gconv_status st = run_residual(p, g, x, residual, y, workspace, workspace_bytes, num_threads);
    if (st == GCONV_OK && p->pad_taps) gconv_pad_taps_mark(&p->desc, g, p->pad_taps, p->pad_tap_count, y);
    return st;
}
