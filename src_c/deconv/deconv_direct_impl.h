/* Body of the direct (gather) transposed-conv kernel, compiled once per ISA by
 * deconv_direct_{scalar,avx2,avx512}.c, which define DECONV_DIRECT_FN and set the
 * target. Plain C: the inner loops are contiguous multiply-adds the compiler
 * vectorizes for whichever target the including file sets.
 *
 * Stride-phase decomposition. Write q = ox + pad_left; output column ox gets tap kx
 * iff q - kx*dilation_w = ix*stride_w with 0 <= ix < in_w. Output columns of one
 * phase r = q mod stride_w (q = r + stride_w*j) all take the same taps kx (those with
 * kx*dilation_w = r mod stride_w), and for them ix = j - m_kx with
 * m_kx = (kx*dilation_w - r) / stride_w: a contiguous run of the input row. So per
 * output row and phase, each tap that hits is one pass acc[j] += w * in_row[j - m]
 * over the j whose ix lies inside the row (found arithmetically, no per-pixel tests),
 * and rows likewise take only the ky with oy + pad_top - ky*dilation_h a multiple of
 * stride_h. The phases are accumulated in a small stack buffer (or, at stride_w 1, in
 * the output row itself), then interleaved into the output row with the clamp. */
#ifndef DECONV_DIRECT_FN
#error "define DECONV_DIRECT_FN before including deconv_direct_impl.h"
#endif

#include "deconv_internal.h"

/* Output columns per pass: the phase accumulators live in a stack buffer this long. */
#define DECONV_CHUNK 512

static inline float clamp_value(float v, float lo, float hi) {
    /* as gconv_clampf: NaN passes through */
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* acc[t] += wv * src[t] for t < n */
static inline void axpy(float *GCONV_RESTRICT acc, const float *GCONV_RESTRICT src, float wv, int64_t n) {
    for (int64_t t = 0; t < n; t++) acc[t] += wv * src[t];
}

/* acc[t] += w0 * s0[t] + w1 * s1[t] for t < n (two taps in one pass over acc) */
static inline void axpy2(float *GCONV_RESTRICT acc, const float *GCONV_RESTRICT s0, float w0,
                         const float *GCONV_RESTRICT s1, float w1, int64_t n) {
    for (int64_t t = 0; t < n; t++) acc[t] += w0 * s0[t] + w1 * s1[t];
}

/* Accumulates into a[0 .. jb-ja) (output columns q = r + sw*j, j in [ja, jb)) the taps
 * of input row `row` (one ci, one ky; wr: its kw weights) that belong to phase r. */
static inline void phase_row(float *a, int64_t ja, int64_t jb, const float *row, const float *wr, int64_t in_w,
                             int64_t kw, int64_t dw, int64_t sw, int64_t r) {
    /* taps of phase r: kx*dw = r (mod sw); consecutive ones are sw/gcd(dw, sw) apart in kx */
    int64_t kx0 = -1;
    for (int64_t kx = 0; kx < kw && kx < sw; kx++)
        if ((kx * dw - r) % sw == 0) { /* the smallest solution, if any, is below sw */
            kx0 = kx;
            break;
        }
    if (kx0 < 0) return;
    int64_t step = 1;
    while ((step * dw) % sw) step++;
    int64_t pend_kx = -1, pend_lo = 0, pend_hi = 0; /* one pass held back to pair with the next */
    for (int64_t kx = kx0; kx < kw; kx += step) {
        const int64_t m = (kx * dw - r + sw) / sw - 1; /* exact: kx*dw - r is a multiple of sw, >= -sw+1 */
        const int64_t lo = ja > m ? ja : m;
        const int64_t hi = jb < m + in_w ? jb : m + in_w;
        if (lo >= hi) continue;
        if (pend_kx >= 0 && lo == pend_lo && hi == pend_hi) {
            const int64_t pm = (pend_kx * dw - r + sw) / sw - 1;
            axpy2(a + (lo - ja), row + (lo - pm), wr[pend_kx], row + (lo - m), wr[kx], hi - lo);
            pend_kx = -1;
            continue;
        }
        if (pend_kx >= 0) {
            const int64_t pm = (pend_kx * dw - r + sw) / sw - 1;
            axpy(a + (pend_lo - ja), row + (pend_lo - pm), wr[pend_kx], pend_hi - pend_lo);
        }
        pend_kx = kx, pend_lo = lo, pend_hi = hi;
    }
    if (pend_kx >= 0) {
        const int64_t pm = (pend_kx * dw - r + sw) / sw - 1;
        axpy(a + (pend_lo - ja), row + (pend_lo - pm), wr[pend_kx], pend_hi - pend_lo);
    }
}

void DECONV_DIRECT_FN(const gconv_dw_geom *g, size_t cin, size_t in_plane, const float *in, const float *w,
                      float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
    const int64_t kh = g->kernel_h, kw = g->kernel_w, sh = g->stride_h, sw = g->stride_w;
    const int64_t dh = g->dilation_h, dw = g->dilation_w, pt = g->pad_top, pl = g->pad_left;
    const float bias = w[0], lo = clamp->min, hi = clamp->max;
    const float *taps = w + 1;
    float buf[DECONV_CHUNK] __attribute__((aligned(64)));
    int64_t seg_off[64]; /* phase -> offset of its segment in buf (sw <= 64 uses the buffer) */

    for (int64_t oy = oy_begin; oy < oy_end; oy++) {
        float *yrow = out + oy * out_w;
        const int64_t qy = oy + pt;
        /* a chunk holds at least one column of every phase when sw > 64 is not buffered */
        const int64_t chunk = sw <= 64 ? DECONV_CHUNK : sw;
        for (int64_t c0 = 0; c0 < out_w; c0 += chunk) {
            const int64_t c1 = c0 + chunk < out_w ? c0 + chunk : out_w;
            const int64_t q0 = c0 + pl, q1 = c1 + pl;
            int64_t off = 0;
            for (int64_t r = 0; r < sw; r++) {
                const int64_t ja = gconv_ceil_div(q0 - r, sw), jb = gconv_ceil_div(q1 - r, sw);
                if (jb <= ja) continue;
                float *a;
                if (sw == 1) {
                    a = yrow + c0;
                } else if (sw <= 64) {
                    a = buf + off;
                    seg_off[r] = off;
                } else {
                    /* huge stride: at most one column per phase in a chunk of sw columns; go direct */
                    a = yrow + (r + sw * ja - pl);
                }
                off += jb - ja;
                for (int64_t t = 0; t < jb - ja; t++) a[t] = bias;
                for (int64_t ky = 0; ky < kh; ky++) {
                    const int64_t ty = qy - ky * dh;
                    if (ty < 0) break; /* ty only decreases */
                    if (ty % sh) continue;
                    const int64_t iy = ty / sh;
                    if (iy >= in_h) continue;
                    for (size_t ci = 0; ci < cin; ci++)
                        phase_row(a, ja, jb, in + ci * in_plane + iy * in_w, taps + ((int64_t)ci * kh + ky) * kw,
                                  in_w, kw, dw, sw, r);
                }
                if (sw > 64) a[0] = clamp_value(a[0], lo, hi);
            }
            const int64_t width = c1 - c0;
            if (sw == 1) {
                float *a = yrow + c0;
                for (int64_t t = 0; t < width; t++) a[t] = clamp_value(a[t], lo, hi);
            } else if (sw == 2) {
                /* column c0 + 2t + s belongs to phase (r0 + s) % 2, index t of its segment */
                const int64_t r0 = q0 % 2;
                const float *A = buf + seg_off[r0];
                const float *B = width > 1 ? buf + seg_off[1 - r0] : buf;
                float *dst = yrow + c0;
                const int64_t pairs = width / 2;
                for (int64_t t = 0; t < pairs; t++) {
                    dst[2 * t] = clamp_value(A[t], lo, hi);
                    dst[2 * t + 1] = clamp_value(B[t], lo, hi);
                }
                if (width & 1) dst[width - 1] = clamp_value(A[pairs], lo, hi);
            } else if (sw <= 64) {
                const int64_t r0 = q0 % sw;
                for (int64_t s = 0; s < sw && s < width; s++) {
                    const float *A = buf + seg_off[(r0 + s) % sw];
                    float *dst = yrow + c0 + s;
                    const int64_t n = (width - s + sw - 1) / sw;
                    for (int64_t t = 0; t < n; t++) dst[t * sw] = clamp_value(A[t], lo, hi);
                }
            }
        }
    }
}
