/* col2im and the output fill/clamp of the GEMM path, compiled once per ISA by
 * deconv_col2im_{scalar,avx2,avx512}.c (which define DECONV_COL2IM_NAME and set the
 * target): plain C loops the compiler vectorizes for the including file's target. */
#ifndef DECONV_COL2IM_NAME
#error "define DECONV_COL2IM_NAME before including deconv_col2im_impl.h"
#endif

#include "deconv_internal.h"

/* yr[t*sw] += s[t] for t < n (sw == 1: contiguous) */
static inline void add_strided(float *GCONV_RESTRICT yr, const float *GCONV_RESTRICT s, int64_t n, int64_t sw) {
    if (sw == 1) {
        for (int64_t t = 0; t < n; t++) yr[t] += s[t];
    } else {
        for (int64_t t = 0; t < n; t++) yr[t * sw] += s[t];
    }
}

/* yr[2t] += s0[t], yr[2t + 1] += s1[t] for t < n: two taps kx, kx+1 at stride 2, dilation 1 */
static inline void add_pair(float *GCONV_RESTRICT yr, const float *GCONV_RESTRICT s0, const float *GCONV_RESTRICT s1,
                            int64_t n) {
    for (int64_t t = 0; t < n; t++) {
        yr[2 * t] += s0[t];
        yr[2 * t + 1] += s1[t];
    }
}

/* Adds C (rows of nco channels x taps, columns = input pixels [p0, p0 + nt), ldc apart)
 * into the output planes y (nco planes), each row shifted by its tap. At stride 2 and
 * dilation 1 the taps kx and kx + 1 fill the even and odd columns of the same output
 * run, so they are added together, interleaved (a vector loop instead of a scalar one). */
static void col2im_add(const gconv_dw_geom *d, const float *c, int64_t ldc, int64_t p0, int64_t nt, int64_t nco,
                       float *y) {
    const int64_t in_w = d->in_w, out_h = d->out_h, out_w = d->out_w, out_plane = out_h * out_w;
    const int64_t sw = d->stride_w, kw = d->kernel_w, kh = d->kernel_h;
    const int pairs = sw == 2 && d->dilation_w == 1;
    for (int64_t co = 0; co < nco; co++) {
        float *plane = y + co * out_plane;
        for (int64_t ky = 0; ky < kh; ky++) {
            for (int64_t kx = 0; kx < kw;) {
                const int64_t n_taps = pairs && kx + 1 < kw ? 2 : 1;
                const float *src[2];
                int64_t ox_off[2], ix_lo[2], ix_hi[2];
                for (int64_t e = 0; e < n_taps; e++) {
                    src[e] = c + ((co * kh + ky) * kw + kx + e) * ldc; /* src[e][pixel - p0] */
                    ox_off[e] = (kx + e) * d->dilation_w - d->pad_left;   /* ox = ix*sw + ox_off */
                    ix_lo[e] = gconv_ceil_div(-ox_off[e], sw);
                    ix_hi[e] = gconv_ceil_div(out_w - ox_off[e], sw);
                    if (ix_lo[e] < 0) ix_lo[e] = 0;
                    if (ix_hi[e] > in_w) ix_hi[e] = in_w;
                }
                for (int64_t pix = p0; pix < p0 + nt;) {
                    const int64_t iy = pix / in_w, ix0 = pix % in_w;
                    int64_t ix1 = in_w;
                    if (ix1 - ix0 > p0 + nt - pix) ix1 = ix0 + (p0 + nt - pix);
                    const int64_t oy = iy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    if (oy >= 0 && oy < out_h) {
                        float *yr = plane + oy * out_w;
                        const int64_t off = pix - p0 - ix0; /* src[e][off + ix]: input pixel (iy, ix) */
                        int64_t a[2], b[2];
                        for (int64_t e = 0; e < n_taps; e++) {
                            a[e] = ix0 > ix_lo[e] ? ix0 : ix_lo[e];
                            b[e] = ix1 < ix_hi[e] ? ix1 : ix_hi[e];
                            if (b[e] < a[e]) b[e] = a[e];
                        }
                        if (n_taps == 1) {
                            if (a[0] < b[0])
                                add_strided(yr + a[0] * sw + ox_off[0], src[0] + off + a[0], b[0] - a[0], sw);
                        } else {
                            /* common run [lo, hi) of both taps interleaved; the rest one tap at a time */
                            const int64_t lo = a[0] > a[1] ? a[0] : a[1], hi = b[0] < b[1] ? b[0] : b[1];
                            if (lo < hi) {
                                add_pair(yr + lo * 2 + ox_off[0], src[0] + off + lo, src[1] + off + lo, hi - lo);
                                for (int64_t e = 0; e < 2; e++) {
                                    if (a[e] < lo) add_strided(yr + a[e] * 2 + ox_off[e], src[e] + off + a[e], lo - a[e], 2);
                                    if (hi < b[e]) add_strided(yr + hi * 2 + ox_off[e], src[e] + off + hi, b[e] - hi, 2);
                                }
                            } else {
                                for (int64_t e = 0; e < 2; e++)
                                    if (a[e] < b[e])
                                        add_strided(yr + a[e] * 2 + ox_off[e], src[e] + off + a[e], b[e] - a[e], 2);
                            }
                        }
                    }
                    pix += ix1 - ix0;
                }
                kx += n_taps;
            }
        }
    }
}

static void fill(float *GCONV_RESTRICT y, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) y[i] = v;
}

static void clamp_all(float *GCONV_RESTRICT y, int64_t n, const gconv_minmax *c) {
    const float lo = c->min, hi = c->max;
    for (int64_t i = 0; i < n; i++) {
        float v = y[i];
        v = v < lo ? lo : v; /* as gconv_clampf: NaN passes through */
        y[i] = v > hi ? hi : v;
    }
}

const gconv_deconv_col2im_kernels DECONV_COL2IM_NAME = {col2im_add, fill, clamp_all};
