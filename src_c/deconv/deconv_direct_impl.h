/* Body of the direct (gather) transposed-conv kernel, compiled once per ISA by
 * deconv_direct_{scalar,avx2,avx512}.c, which define DECONV_DIRECT_FN and set the
 * target. Plain C: the inner loops are contiguous multiply-adds and fixed-width
 * interleaves that the compiler vectorizes for the including file's target.
 *
 * Stride-phase decomposition. Write q = ox + pad_left; output column ox gets tap kx
 * iff q - kx*dilation_w = ix*stride_w with 0 <= ix < in_w. The output columns of one
 * phase r = q mod stride_w (q = r + stride_w*j) all take the same taps: kx = kx0(r) +
 * t*step (step = stride_w / gcd(dilation_w, stride_w)), with ix = j - m, m = m0(r) +
 * t*step*dilation_w/stride_w; so each tap that hits is one pass acc[j] += w*in_row[j - m]
 * over a contiguous run of j (its ends found arithmetically: no per-pixel tests). Rows
 * likewise: output row oy takes only the ky of its phase (oy + pad_top) mod stride_h.
 * The phase tables are computed once per call, so a row costs one division.
 * A row is done in chunks of columns: the phases accumulate in a stack buffer (at
 * stride_w 1, in the output row itself) and are then interleaved into the output
 * row with the clamp. Strides above DD_MAX_PHASES take a plain per-pixel loop. */
#ifndef DECONV_DIRECT_FN
#error "define DECONV_DIRECT_FN before including deconv_direct_impl.h"
#endif

#include "deconv_internal.h"

#ifndef DD_VL
#define DD_VL 4 /* floats per vector of the target: fixed-length blocks the compiler maps onto one vector */
#endif
#define DD_CHUNK 512      /* output columns per pass (stack buffer) */
#define DD_MAX_PHASES 64  /* larger strides take the per-pixel loop */

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

/* One tap that hits a phase segment: value row[j - m] * w for j in [lo, hi). */
typedef struct {
    const float *row;
    float w;
    int64_t m, lo, hi;
} dd_tap;

#define DD_MAX_TAPS 32 /* taps gathered per pass; more are added in further passes */

/* a[t] (= base, or += when accumulate) + sum of k taps (k <= 4), at p[i][t]. */
static inline void dd_sum(float *GCONV_RESTRICT a, int64_t n, const float *const *p, const float *w, int k,
                          int accumulate, float base) {
    const float *GCONV_RESTRICT p0 = p[0], *GCONV_RESTRICT p1 = p[1], *GCONV_RESTRICT p2 = p[2],
                                *GCONV_RESTRICT p3 = p[3];
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
    if (accumulate) {
        switch (k) {
        case 1: for (int64_t t = 0; t < n; t++) a[t] += w0 * p0[t]; break;
        case 2: for (int64_t t = 0; t < n; t++) a[t] += w0 * p0[t] + w1 * p1[t]; break;
        case 3: for (int64_t t = 0; t < n; t++) a[t] += w0 * p0[t] + w1 * p1[t] + w2 * p2[t]; break;
        default: for (int64_t t = 0; t < n; t++) a[t] += (w0 * p0[t] + w1 * p1[t]) + (w2 * p2[t] + w3 * p3[t]); break;
        }
    } else if (n >= DD_VL) {
        /* a = base + taps is idempotent: the last block overlaps the previous one instead of a scalar tail */
        for (int64_t t0 = 0;; t0 += DD_VL) {
            if (t0 + DD_VL > n) t0 = n - DD_VL;
            float *GCONV_RESTRICT d = a + t0;
            const float *GCONV_RESTRICT q0 = p0 + t0, *GCONV_RESTRICT q1 = p1 + t0, *GCONV_RESTRICT q2 = p2 + t0,
                                        *GCONV_RESTRICT q3 = p3 + t0;
            switch (k) {
            case 0: for (int e = 0; e < DD_VL; e++) d[e] = base; break;
            case 1: for (int e = 0; e < DD_VL; e++) d[e] = base + w0 * q0[e]; break;
            case 2: for (int e = 0; e < DD_VL; e++) d[e] = base + w0 * q0[e] + w1 * q1[e]; break;
            case 3: for (int e = 0; e < DD_VL; e++) d[e] = base + w0 * q0[e] + w1 * q1[e] + w2 * q2[e]; break;
            default:
                for (int e = 0; e < DD_VL; e++) d[e] = base + (w0 * q0[e] + w1 * q1[e]) + (w2 * q2[e] + w3 * q3[e]);
                break;
            }
            if (t0 + DD_VL >= n) break;
        }
    } else {
        switch (k) {
        case 0: for (int64_t t = 0; t < n; t++) a[t] = base; break;
        case 1: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * p0[t]; break;
        case 2: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * p0[t] + w1 * p1[t]; break;
        case 3: for (int64_t t = 0; t < n; t++) a[t] = base + w0 * p0[t] + w1 * p1[t] + w2 * p2[t]; break;
        default:
            for (int64_t t = 0; t < n; t++) a[t] = base + (w0 * p0[t] + w1 * p1[t]) + (w2 * p2[t] + w3 * p3[t]);
            break;
        }
    }
}

/* Applies `count` taps to the phase segment a[0 .. jb-ja) (j in [ja, jb)): sets it to
 * bias + taps (accumulate == 0) or adds the taps to it. Where every tap's run covers j
 * (the interior) the taps go four per pass; the few border columns take a scalar loop. */
static void dd_apply(float *a, int64_t ja, int64_t jb, const dd_tap *tp, int count, int accumulate, float bias) {
    int64_t ilo = ja, ihi = jb;
    for (int i = 0; i < count; i++) {
        if (tp[i].lo > ilo) ilo = tp[i].lo;
        if (tp[i].hi < ihi) ihi = tp[i].hi;
    }
    if (ihi < ilo) ihi = ilo;
    /* borders [ja, ilo) and [ihi, jb) */
    for (int64_t j = ja; j < jb; j++) {
        if (j == ilo) j = ihi;
        if (j >= jb) break;
        float v = accumulate ? a[j - ja] : bias;
        for (int i = 0; i < count; i++)
            if (j >= tp[i].lo && j < tp[i].hi) v += tp[i].w * tp[i].row[j - tp[i].m];
        a[j - ja] = v;
    }
    if (ihi == ilo) return;
    const float *p[4];
    float w[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    do {
        const int k = count - i < 4 ? count - i : 4;
        for (int e = 0; e < 4; e++) {
            const dd_tap *t = &tp[i + (e < k ? e : 0)];
            p[e] = k ? t->row + (ilo - t->m) : a; /* any valid pointer when there are no taps */
            w[e] = e < k ? t->w : 0.0f;
        }
        dd_sum(a + (ilo - ja), ihi - ilo, p, w, k, accumulate, bias);
        accumulate = 1;
        i += k;
    } while (i < count);
}

/* Per-pixel loop for strides above DD_MAX_PHASES (at most a tap or so per pixel). */
static void dd_generic(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in, const float *w,
                       float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t kh = g->kernel_h, kw = g->kernel_w;
    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        for (int64_t ox = 0; ox < g->out_w; ox++) {
            float acc = w[0];
            for (size_t ci = 0; ci < cin; ci++) {
                for (int64_t ky = 0; ky < kh; ky++) {
                    const int64_t ty = oy + g->pad_top - ky * g->dilation_h;
                    if (ty < 0) break;
                    if (ty % g->stride_h || ty / g->stride_h >= g->in_h) continue;
                    const float *row = in + ci * in_plane + (ty / g->stride_h) * g->in_w;
                    for (int64_t kx = 0; kx < kw; kx++) {
                        const int64_t tx = ox + g->pad_left - kx * g->dilation_w;
                        if (tx < 0) break;
                        if (tx % g->stride_w || tx / g->stride_w >= g->in_w) continue;
                        acc += w[1 + ((int64_t)ci * kh + ky) * kw + kx] * row[tx / g->stride_w];
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

void DECONV_DIRECT_FN(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in, const float *w,
                      float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t sh = g->stride_h, sw = g->stride_w;
    if (sh > DD_MAX_PHASES || sw > DD_MAX_PHASES) {
        dd_generic(g, cin, in_plane, in, w, out, oy_begin, oy_end, clamp);
        return;
    }
    const int64_t in_h = g->in_h, in_w = g->in_w, out_w = g->out_w, kh = g->kernel_h, kw = g->kernel_w;
    const int64_t pt = g->pad_top, pl = g->pad_left;
    const float bias = w[0], lo = clamp->min, hi = clamp->max;
    const float *taps = w + 1;

    dd_phase yph[DD_MAX_PHASES], xph[DD_MAX_PHASES];
    int64_t ystep, ymstep, xstep, xmstep;
    dd_phases(kh, g->dilation_h, sh, yph, &ystep, &ymstep);
    dd_phases(kw, g->dilation_w, sw, xph, &xstep, &xmstep);
    /* chunks are a multiple of sw columns, so phase r's first j in chunk c0 is ja0[r] + c0/sw */
    const int64_t chunk = DD_CHUNK / sw * sw;
    int64_t ja0[DD_MAX_PHASES], jend[DD_MAX_PHASES];
    for (int64_t r = 0; r < sw; r++) {
        ja0[r] = gconv_ceil_div(pl - r, sw);
        jend[r] = gconv_ceil_div(out_w + pl - r, sw);
    }
    float buf[DD_CHUNK] __attribute__((aligned(64)));
    const float *seg[DD_MAX_PHASES]; /* seg[s]: segment of the phase of column c0 + s */

    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        float *yrow = out + oy * out_w;
        const int64_t qy = oy + pt, ry = qy % sh, jy = qy / sh;
        const dd_phase *yp = &yph[ry];
        for (int64_t c0 = 0; c0 < out_w; c0 += chunk) {
            const int64_t c1 = c0 + chunk < out_w ? c0 + chunk : out_w, width = c1 - c0;
            const int64_t base = c0 / sw, r0 = (c0 + pl) % sw;
            float *next = buf;
            for (int64_t s = 0, r = r0; s < sw && s < width; s++, r = r + 1 == sw ? 0 : r + 1) {
                const int64_t ja = ja0[r] + base, jb = c1 == out_w ? jend[r] : ja0[r] + base + chunk / sw;
                const int64_t n = jb - ja; /* >= 1: column c0 + s is in it */
                float *a = sw == 1 ? yrow + c0 : next;
                seg[s] = a;
                next += n;
                const dd_phase *xp = &xph[r];
                dd_tap tp[DD_MAX_TAPS];
                int count = 0, accumulate = 0;
                for (int64_t ty = 0; ty < yp->n; ty++) {
                    const int64_t iy = jy - (yp->m0 + ty * ymstep);
                    if (iy < 0) break; /* iy only decreases */
                    if (iy >= in_h) continue;
                    const int64_t ky = yp->k0 + ty * ystep;
                    for (size_t ci = 0; ci < cin; ci++) {
                        const float *row = in + ci * in_plane + iy * in_w;
                        const float *wr = taps + ((int64_t)ci * kh + ky) * kw;
                        for (int64_t tx = 0; tx < xp->n; tx++) {
                            const int64_t m = xp->m0 + tx * xmstep;
                            const int64_t lo = ja > m ? ja : m, hi = jb < m + in_w ? jb : m + in_w;
                            if (lo >= hi) continue;
                            tp[count].row = row;
                            tp[count].w = wr[xp->k0 + tx * xstep];
                            tp[count].m = m;
                            tp[count].lo = lo;
                            tp[count].hi = hi;
                            if (++count == DD_MAX_TAPS) {
                                dd_apply(a, ja, jb, tp, count, accumulate, bias);
                                count = 0;
                                accumulate = 1;
                            }
                        }
                    }
                }
                if (count || !accumulate) dd_apply(a, ja, jb, tp, count, accumulate, bias);
            }
            if (sw == 1) {
                float *a = yrow + c0;
                for (int64_t t = 0; t < width; t++) a[t] = dd_clamp(a[t], lo, hi);
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
