/* Body of the direct (gather) transposed-conv kernel, compiled at the baseline target
 * (deconv_direct_scalar.c) and for AVX2 (deconv_direct_avx2.c, also used on the AVX-512
 * path), which define DECONV_DIRECT_FN, DD_VL and the target. Plain C: the inner loops
 * are contiguous multiply-adds and fixed-width interleaves that the compiler vectorizes
 * for the including file's target.
 *
 * Stride-phase decomposition. Write q = ox + pad_left; output column ox gets tap kx
 * iff q - kx*dilation_w = ix*stride_w with 0 <= ix < in_w. The output columns of one
 * phase r = q mod stride_w (q = r + stride_w*j) all take the same taps: kx = kx0(r) +
 * t*step (step = stride_w / gcd(dilation_w, stride_w)), with ix = j - m, m = m0(r) +
 * t*step*dilation_w/stride_w; so each tap that hits is one pass acc[j] += w*in_row[j - m]
 * over a contiguous run of j (its ends found arithmetically: no per-pixel tests). Rows
 * likewise: output row oy takes only the ky of its phase (oy + pad_top) mod stride_h.
 * The phase tables are computed once per call, so a row costs one division.
 *
 * Borders cost nothing: the input rows a band of output rows needs are first copied
 * into scratch with zero padding around them, wide enough that every tap of a phase
 * covers the phase's whole run of columns and that runs can be rounded up to whole
 * vectors. So a (row, phase) is: bias + its taps, four per pass over a stack buffer,
 * then one pass that interleaves the phases into the output row with the clamp.
 * Strides above GCONV_DECONV_MAX_PHASES, and weights that are not all finite (0 * inf
 * in the padding would make a NaN torch does not have), take an exact per-pixel loop. */
#ifndef DECONV_DIRECT_FN
#error "define DECONV_DIRECT_FN before including deconv_direct_impl.h"
#endif

#include "deconv_internal.h"

#include <string.h>

#ifndef DD_VL
#define DD_VL 4 /* floats per vector of the target: fixed-length blocks the compiler maps onto one vector */
#endif
#define DD_CHUNK 512      /* output columns per pass (stack buffer) */

static inline float dd_clamp(float v, float lo, float hi) {
    /* as gconv_clampf: NaN passes through */
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

static inline int64_t dd_gcd(int64_t a, int64_t b) {
    while (b) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Taps of one phase: kx (or ky) = k0 + t*step for t < n; the input index is j - (m0 + t*mstep). */
typedef struct {
    int64_t k0, m0, n;
} dd_phase;

/* Phase tables of one axis: for r < stride, the taps k < kernel with k*dil = r (mod stride). */
static void dd_phases(int64_t kernel, int64_t dil, int64_t stride, dd_phase *ph, int64_t *step, int64_t *mstep) {
    const int64_t st = stride / dd_gcd(dil, stride);
    *step = st;
    *mstep = st * dil / stride;
    for (int64_t r = 0; r < stride; r++) ph[r].n = 0;
    /* k < st gives every residue class once; k0 = the smallest k of its class */
    for (int64_t k = 0; k < st && k < kernel; k++) {
        const int64_t r = (k * dil) % stride;
        ph[r].k0 = k;
        ph[r].m0 = (k * dil - r) / stride;
        ph[r].n = (kernel - 1 - k) / st + 1;
    }
}

/* a[0 .. n) = base + sum of k taps (k <= 4) at p[i][t], or += the taps when accumulate.
 * Callers round n up to whole vectors (DD_VL), so the vector loop has no scalar tail. */
static inline void dd_sum(float *GCONV_RESTRICT a, int64_t n, const float *const *p, const float *w, int k,
                          int accumulate, float base) {
    /* only the k pointers and weights in use are read (the others are not set) */
    const float *GCONV_RESTRICT q0 = k > 0 ? p[0] : a, *GCONV_RESTRICT q1 = k > 1 ? p[1] : a,
                                *GCONV_RESTRICT q2 = k > 2 ? p[2] : a, *GCONV_RESTRICT q3 = k > 3 ? p[3] : a;
    const float w0 = k > 0 ? w[0] : 0.0f, w1 = k > 1 ? w[1] : 0.0f, w2 = k > 2 ? w[2] : 0.0f,
                w3 = k > 3 ? w[3] : 0.0f;
    if (accumulate) {
        switch (k) {
        case 1: for (int64_t t = 0; t < n; t++) a[t] += w0 * q0[t]; break;
        case 2: for (int64_t t = 0; t < n; t++) a[t] += w0 * q0[t] + w1 * q1[t]; break;
        case 3: for (int64_t t = 0; t < n; t++) a[t] += w0 * q0[t] + w1 * q1[t] + w2 * q2[t]; break;
        default:
            for (int64_t t = 0; t < n; t++) a[t] += (w0 * q0[t] + w1 * q1[t]) + (w2 * q2[t] + w3 * q3[t]);
            break;
        }
    } else {
        switch (k) {
        case 0: for (int64_t t = 0; t < n; t++) a[t] = base; break;
        case 1: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * q0[t]; break;
        case 2: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * q0[t] + w1 * q1[t]; break;
        case 3: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * q0[t] + w1 * q1[t] + w2 * q2[t]; break;
        default:
            for (int64_t t = 0; t < n; t++) a[t] = base + (w0 * q0[t] + w1 * q1[t]) + (w2 * q2[t] + w3 * q3[t]);
            break;
        }
    }
}

/* Per-pixel loop, exact at the borders (no padded reads): strides above
 * GCONV_DECONV_MAX_PHASES, and weights that are not all finite (a padded read would
 * turn an inf or NaN weight times 0 into a NaN where torch adds nothing). */
static void dd_generic(const gconv_deconv_direct_geom *dg, const float *in, const float *w, float *out,
                       int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const gconv_dw_geom *g = &dg->g;
    const int64_t kh = g->kernel_h, kw = g->kernel_w;
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        for (int64_t ox = 0; ox < g->out_w; ox++) {
            float acc = w[0];
            for (int64_t ci = 0; ci < dg->cin; ci++) {
                for (int64_t ky = 0; ky < kh; ky++) {
                    const int64_t ty = oy + g->pad_top - ky * g->dilation_h;
                    if (ty < 0) break;
                    if (ty % g->stride_h || ty / g->stride_h >= g->in_h) continue;
                    const float *row = in + ci * dg->in_plane + (ty / g->stride_h) * g->in_w;
                    for (int64_t kx = 0; kx < kw; kx++) {
                        const int64_t tx = ox + g->pad_left - kx * g->dilation_w;
                        if (tx < 0) break;
                        if (tx % g->stride_w || tx / g->stride_w >= g->in_w) continue;
                        acc += w[1 + (ci * kh + ky) * kw + kx] * row[tx / g->stride_w];
                    }
                }
            }
            out[oy * g->out_w + ox] = gconv_clampf(acc, clamp);
        }
    }
}

/* dst[K*t + s] = clamp(seg[s][t]) for the `width` columns of dst (K phases, fixed). */
#define DD_INTERLEAVE(K)                                                                                 \
    static inline void dd_interleave##K(float *GCONV_RESTRICT dst, const float *const *seg, int64_t width, \
                                        float lo, float hi) {                                            \
        const int64_t full = width / K;                                                                  \
        for (int64_t t = 0; t < full; t++)                                                               \
            for (int s = 0; s < K; s++) dst[K * t + s] = dd_clamp(seg[s][t], lo, hi);                    \
        for (int64_t s = 0; s < width - K * full; s++) dst[K * full + s] = dd_clamp(seg[s][full], lo, hi); \
    }
DD_INTERLEAVE(2)
DD_INTERLEAVE(4)
DD_INTERLEAVE(8)

/* Copies the input rows [iy_lo, iy_lo + nrows) of the cin planes into scratch, zero-padded:
 * padded row (ci, rr) holds input columns ix0 .. ix0 + row_stride - 1 of row iy_lo + rr. */
static void dd_copy_band(const gconv_deconv_direct_geom *dg, const float *in, int64_t iy_lo, int64_t nrows,
                         float *scratch) {
    const int64_t in_h = dg->g.in_h, in_w = dg->g.in_w, ix0 = dg->ix0, rs = dg->row_stride;
    int64_t a = ix0 > 0 ? ix0 : 0, b = ix0 + rs < in_w ? ix0 + rs : in_w; /* input columns inside */
    if (b < a) b = a;
    for (int64_t ci = 0; ci < dg->cin; ci++) {
        for (int64_t rr = 0; rr < nrows; rr++) {
            float *dst = scratch + (ci * dg->rows + rr) * rs;
            const int64_t iy = iy_lo + rr;
            if (iy < 0 || iy >= in_h || a == b) {
                memset(dst, 0, (size_t)rs * sizeof(float));
                continue;
            }
            memset(dst, 0, (size_t)(a - ix0) * sizeof(float));
            memcpy(dst + (a - ix0), in + ci * dg->in_plane + iy * in_w + a, (size_t)(b - a) * sizeof(float));
            memset(dst + (b - ix0), 0, (size_t)(rs - (b - ix0)) * sizeof(float));
        }
    }
}

void DECONV_DIRECT_FN(const gconv_deconv_direct_geom *dg, const float *in, const float *w, float *out,
                      int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp, float *scratch) {
    const gconv_dw_geom *g = &dg->g;
    const int64_t sh = g->stride_h, sw = g->stride_w;
    if (!scratch || sh > GCONV_DECONV_MAX_PHASES || sw > GCONV_DECONV_MAX_PHASES) {
        dd_generic(dg, in, w, out, oy_begin, oy_end, clamp);
        return;
    }
    const int64_t in_h = g->in_h, out_w = g->out_w, kh = g->kernel_h, kw = g->kernel_w, cin = dg->cin;
    const int64_t pt = g->pad_top, pl = g->pad_left, rs = dg->row_stride, plane_stride = dg->rows * rs;
    const float bias = w[0], lo = clamp->min, hi = clamp->max;
    const float *taps = w + 1;

    dd_phase yph[GCONV_DECONV_MAX_PHASES], xph[GCONV_DECONV_MAX_PHASES];
    int64_t ystep, ymstep, xstep, xmstep;
    dd_phases(kh, g->dilation_h, sh, yph, &ystep, &ymstep);
    dd_phases(kw, g->dilation_w, sw, xph, &xstep, &xmstep);
    /* chunks are a multiple of sw columns, so phase r's first j in chunk c0 is ja0[r] + c0/sw */
    const int64_t chunk = DD_CHUNK / sw * sw;
    int64_t ja0[GCONV_DECONV_MAX_PHASES], jend[GCONV_DECONV_MAX_PHASES];
    for (int64_t r = 0; r < sw; r++) {
        ja0[r] = gconv_ceil_div(pl - r, sw);
        jend[r] = gconv_ceil_div(out_w + pl - r, sw);
    }
    /* segments are written in whole vectors: the last one runs up to DD_VL - 1 floats past `width` */
    float buf[DD_CHUNK + DD_VL] __attribute__((aligned(64)));
    const float *seg[GCONV_DECONV_MAX_PHASES]; /* seg[s]: segment of the phase of column c0 + s */

    for (int64_t band0 = oy_begin; band0 < oy_end; band0 += dg->band) {
        const int64_t band1 = band0 + dg->band < oy_end ? band0 + dg->band : oy_end;
        const int64_t iy_lo = (band0 + pt) / sh - dg->my_max;
        dd_copy_band(dg, in, iy_lo, (band1 - 1 + pt) / sh - iy_lo + 1, scratch);
        for (int64_t oy = band0; oy < band1; oy++) {
            float *yrow = out + oy * out_w;
            const int64_t qy = oy + pt, ry = qy % sh, jy = qy / sh;
            const dd_phase *yp = &yph[ry];
            for (int64_t c0 = 0; c0 < out_w; c0 += chunk) {
                const int64_t c1 = c0 + chunk < out_w ? c0 + chunk : out_w, width = c1 - c0;
                const int64_t base = c0 / sw, r0 = (c0 + pl) % sw;
                float *next = buf;
                for (int64_t s = 0, r = r0; s < sw && s < width; s++, r = r + 1 == sw ? 0 : r + 1) {
                    const int64_t ja = ja0[r] + base, jb = c1 == out_w ? jend[r] : ja0[r] + base + chunk / sw;
                    const int64_t n_up = (jb - ja + DD_VL - 1) / DD_VL * DD_VL; /* jb - ja >= 1 */
                    float *a = next;
                    seg[s] = a;
                    next += jb - ja;
                    const dd_phase *xp = &xph[r];
                    const float *p[4];
                    float wv[4];
                    int k = 0, accumulate = 0;
                    for (int64_t ty = 0; ty < yp->n; ty++) {
                        const int64_t ky = yp->k0 + ty * ystep, iy = jy - (yp->m0 + ty * ymstep);
                        if (iy < 0) break; /* iy only decreases; rows outside the input add nothing */
                        if (iy >= in_h) continue;
                        /* padded row of input row iy, at column ja - mx for tap (ky, kx) */
                        const float *rowp = scratch + (iy - iy_lo) * rs + (ja - dg->ix0);
                        for (int64_t ci = 0; ci < cin; ci++) {
                            const float *wr = taps + (ci * kh + ky) * kw;
                            for (int64_t tx = 0; tx < xp->n; tx++) {
                                p[k] = rowp + ci * plane_stride - (xp->m0 + tx * xmstep);
                                wv[k] = wr[xp->k0 + tx * xstep];
                                if (++k == 4) {
                                    dd_sum(a, n_up, p, wv, 4, accumulate, bias);
                                    k = 0;
                                    accumulate = 1;
                                }
                            }
                        }
                    }
                    if (k || !accumulate) dd_sum(a, n_up, p, wv, k, accumulate, bias);
                }
                if (sw == 1) {
                    for (int64_t t = 0; t < width; t++) yrow[c0 + t] = dd_clamp(buf[t], lo, hi);
                } else if (sw == 2) {
                    dd_interleave2(yrow + c0, seg, width, lo, hi);
                } else if (sw == 4) {
                    dd_interleave4(yrow + c0, seg, width, lo, hi);
                } else if (sw == 8) {
                    dd_interleave8(yrow + c0, seg, width, lo, hi);
                } else {
                    for (int64_t s = 0; s < sw && s < width; s++) {
                        const float *A = seg[s];
                        float *dst = yrow + c0 + s;
                        const int64_t n = (width - s + sw - 1) / sw;
                        for (int64_t t = 0; t < n; t++) dst[t * sw] = dd_clamp(A[t], lo, hi);
                    }
                }
            }
        }
    }
}
