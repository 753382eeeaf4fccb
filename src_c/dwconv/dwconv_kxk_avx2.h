/* Body of the f32-dwconv-KxKsS-avx2 kernels: each .c file defines DW_K (3 or 5, or 7 at stride 1),
 * DW_S (1 or 2), DW_FN (one plane) and DW_FN_MC (several channels), then
 * includes this header once.
 *
 * Same plan as dwconv_kxk_avx512.h (read that first), with 8 columns per vector
 * and 16 registers:
 *  - strips of 8 output columns, passes of up to DW_R output rows in which each
 *    loaded input row vector feeds every output row of the pass that uses it,
 *    each pass across all the row's strips (same bits; 1 thread on an AVX-512
 *    machine, A/B in one binary, over strips down the whole plane: 3x3s2 on
 *    96x112x112 0.92, 144x56x56 0.95; 3x3s1 on 32x112x112 0.90, 128x56x56
 *    0.94, 144x56x56 0.96-1.00; 5x5s1 on 72x56x56 0.94, 240x28x28 0.99);
 *  - stride 1 goes column of taps by column of taps, so that only K taps, the
 *    R accumulators and one input vector are live (16 ymm registers);
 *  - loaded vectors are pinned in registers (DW_KEEP) so GCC does not fold the
 *    load into each FMA that uses it;
 *  - border strips load with vmaskmovps whose masks enable only columns inside
 *    the row (the others read nothing and are 0, i.e. the zero padding; at a
 *    row's ends only the loads that reach past it, DW_EDGE_*); input
 *    rows outside the plane are skipped, so any padding works and nothing
 *    outside the plane is read or written (a tap that is Inf or NaN gives NaN
 *    where it meets padding, as in PyTorch; the scalar kernel skips those taps);
 *  - stride 2 splits float pairs into even and odd columns with one in-lane
 *    shufps each. That leaves the 8 outputs in the order 0 1 4 5 2 3 6 7; every
 *    tap uses the same order, so the accumulators are put back in order with
 *    one vpermpd per stored vector instead of one per load.
 *
 * Stride 1 takes its dilation from the geometry (a pass then takes every d-th
 * output row); stride 2 expects dilation 1. A geometry this kernel is not built
 * for goes to the generic kernel, so calling it directly is safe.
 */
#if !defined(DW_K) || !defined(DW_S) || !defined(DW_FN) || !defined(DW_FN_MC)
#error "define DW_K, DW_S, DW_FN and DW_FN_MC before including this file"
#endif
#if DW_S == 2 && DW_K > 5
#error "stride 2 keeps all K*K taps in the 16 registers: K is at most 5"
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx2.h"
#define DW_PF_OUT_HINT _MM_HINT_T0
#include "dwconv_plane_prefetch.h"

#include <math.h>

#define DW_LANES 8
/* Output rows per pass: stride 1 keeps 8 accumulators + K taps + 1 input in
 * the 16 registers; stride 2 needs all K*K taps at once (each input row feeds
 * taps of several kernel rows) and 2R+K-2 rows per pass. */
#if DW_S == 1
#define DW_R 8
#else
#define DW_R 4
#endif
#define DW_VR(r) (DW_S * ((r) - 1) + DW_K)
#define DW_V DW_VR(DW_R)
/* Stride 2: float pairs at column offsets 0, 2, .., K-1. */
#define DW_PAIRS (DW_K / 2 + 1)
#if DW_S == 1
#define DW_NMASK DW_K
#else
#define DW_NMASK (2 * DW_PAIRS)
#endif

/* Output planes (floats) from which strips are aligned to 32 bytes (see DW_FN_MC). */
#if DW_K == 3 && DW_S == 1
#define DW_ALIGN_MIN_PLANE 8192
#else
#define DW_ALIGN_MIN_PLANE INT64_MAX
#endif

/* Output planes (floats) below which the next plane is prefetched as two runs
 * (dwconv_plane_prefetch.h): all 3x3 planes. This path, 1 thread on an AVX-512
 * machine, A/B in one process: 3x3s2 on 96x112x112 0.96 of its time, 3x3s1 on
 * 144x56x56 0.97-0.99 and on 32x112x112 0.97-0.98; 5x5s1 on 72x56x56 1.02. */
#if DW_K == 3
#define DW_PF_TWO_STREAMS_MAX_PLANE INT64_MAX
#else
#define DW_PF_TWO_STREAMS_MAX_PLANE 0
#endif

/* How a strip loads and stores (dw_block's `edge`). vmaskmovps costs a uop on a vector port on top of
 * the load and needs its mask in a register, so a strip at a row's end masks only the loads that
 * reach past the row. */
enum {
    DW_EDGE_NONE,  /* every column read is inside the row, all 8 outputs exist */
    DW_EDGE_LEFT,  /* 8 outputs; stride 1: the loads of tap columns kx < K/2 masked, stride 2: pair 0's first vector */
    DW_EDGE_RIGHT, /* 8 outputs; stride 1 only: the loads of tap columns kx > K/2 masked */
    DW_EDGE_ALL,   /* every load masked, the store too */
};
/* Whether edge masks load j (stride 1: tap column kx; stride 2: vector j of pair j / 2) */
#if DW_S == 1
#define DW_MASKS_LOAD(edge, j) \
    ((edge) == DW_EDGE_ALL || ((edge) == DW_EDGE_LEFT && (j) < DW_K / 2) || ((edge) == DW_EDGE_RIGHT && (j) > DW_K / 2))
#else
#define DW_MASKS_LOAD(edge, j) ((edge) == DW_EDGE_ALL || ((edge) == DW_EDGE_LEFT && (j) == 0))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DW_INLINE static inline __attribute__((always_inline))
#define DW_NOINLINE static __attribute__((noinline))
#define DW_KEEP(x) __asm__("" : "+x"(x))
#define DW_OPAQUE(p) __asm__("" : "+r"(p))
#else
#define DW_INLINE static inline
#define DW_NOINLINE static
#define DW_KEEP(x) ((void)0)
#define DW_OPAQUE(p) ((void)0)
#endif

typedef struct {
    const float *in;
    float *out;
    const float *w;
    size_t channels;
    int64_t in_stride, out_stride; /* floats between channels' planes (in_stride 0: one shared plane) */
    int64_t in_h, in_w, out_w;
    int64_t oy_begin, oy_end;
    int64_t pad_top;
    int64_t dil_w;  /* stride 1 only; 1 for stride 2 */
    int64_t vpitch; /* input rows between virtual rows v and v + 1 */
    int64_t ostep;  /* output rows between the rows of one pass */
    float cmin, cmax;
    /* Wide planes, one channel at a time: the next channel's plane
     * (dwconv_plane_prefetch.h). This took 3x3s1 on 32x112x112 from 0.128 to
     * 0.103 ms (1 thread, data in L3). */
    dw_plane_prefetch pf;
} dw_ctx;

/* Same NaN rules as gconv_clampf: max/min return their second operand when
 * either input is NaN, so a NaN sum leaves the clamp without effect. */
/* acc[i] += the tap of kernel row v - S*i, column kx, times x. */
#define DW_FMA_ROWS(v, kx, x)                                                                   \
    do {                                                                                        \
        _Pragma("GCC unroll 16") for (int i_ = 0; i_ < R; i_++) {                               \
            const int ky_ = (v) - DW_S * i_;                                                    \
            if (ky_ >= 0 && ky_ < DW_K) acc[i_] = _mm256_fmadd_ps(vt[ky_ * DW_K + (kx)], (x), acc[i_]); \
        }                                                                                       \
    } while (0)

/* One pass: R output rows x 8 columns, of which the first nr rows are stored.
 * r: the first column this strip reads in virtual row vlo (the first row
 * inside the plane); rs: floats between virtual rows; taps: the K*K taps;
 * o: the first output, os: floats between the pass's output rows. checked == 0:
 * all virtual rows are inside the plane (vlo = 0) and nr = R. edge: which loads
 * take the masks m (DW_EDGE_*); DW_EDGE_ALL stores the lanes ms, the others all 8. */
DW_INLINE void dw_block(const float *r, int64_t rs, int64_t d, const float *taps, const __m256 *vt_unused, __m256 vbias,
                        __m256 vmin, __m256 vmax, int clamped, float *o, int64_t os, const int R, int64_t nr,
                        const int edge, const int checked, int64_t vlo, int64_t vhi, const __m256i *m, __m256i ms) {
    (void)vt_unused; /* (DW_TAPS_IN_REGS 0: the taps are broadcast below, where they are used) */
    __m256 acc[DW_R];
    for (int i = 0; i < R; i++) acc[i] = vbias;
#if DW_S == 1
#pragma GCC unroll 8
    for (int kx = 0; kx < DW_K; kx++) {
        __m256 vt[DW_K * DW_K];
        for (int ky = 0; ky < DW_K; ky++) vt[ky * DW_K + kx] = _mm256_broadcast_ss(taps + ky * DW_K + kx);
        const float *p = r + kx * d;
#pragma GCC unroll 40
        for (int v = 0; v < DW_VR(R); v++) {
            if (checked && (v < vlo || v >= vhi)) continue;
            __m256 x = DW_MASKS_LOAD(edge, kx) ? _mm256_maskload_ps(p, m[kx]) : _mm256_loadu_ps(p);
            DW_KEEP(x);
            DW_FMA_ROWS(v, kx, x);
            p += rs;
        }
    }
#else
    (void)d;
    __m256 vt[DW_K * DW_K];
    for (int t = 0; t < DW_K * DW_K; t++) vt[t] = _mm256_broadcast_ss(taps + t);
    /* The interior's last pair skips its float 15: an odd column no tap uses. */
    const __m256i last7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
#pragma GCC unroll 24
    for (int v = 0; v < DW_VR(R); v++) {
        if (checked && (v < vlo || v >= vhi)) continue;
#pragma GCC unroll 4
        for (int p = 0; p < DW_PAIRS; p++) {
            const float *q = r + 2 * p;
            __m256 lo = DW_MASKS_LOAD(edge, 2 * p) ? _mm256_maskload_ps(q, m[2 * p]) : _mm256_loadu_ps(q);
            __m256 hi = DW_MASKS_LOAD(edge, 2 * p + 1) ? _mm256_maskload_ps(q + DW_LANES, m[2 * p + 1])
                        : p == DW_PAIRS - 1 ? _mm256_maskload_ps(q + DW_LANES, last7)
                                            : _mm256_loadu_ps(q + DW_LANES);
            DW_KEEP(lo);
            DW_KEEP(hi);
            const __m256 xe = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            DW_FMA_ROWS(v, 2 * p, xe);
            if (2 * p + 1 < DW_K) {
                const __m256 xo = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
                DW_FMA_ROWS(v, 2 * p + 1, xo);
            }
        }
        r += rs;
    }
#endif
    if (clamped)
        for (int i = 0; i < R; i++) acc[i] = clamp_ps(acc[i], vmin, vmax);
    for (int i = 0; i < R; i++) {
        if (checked && i >= nr) break;
        __m256 y = acc[i];
#if DW_S == 2
        y = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(y), _MM_SHUFFLE(3, 1, 2, 0)));
#endif
        if (edge == DW_EDGE_ALL)
            _mm256_maskstore_ps(o + i * os, ms, y);
        else
            _mm256_storeu_ps(o + i * os, y);
    }
}

/* A strip: the 8 output columns from ox0 (col0: the first input column its kx = 0 tap reads).
 * edge: which of its loads take the masks m; DW_EDGE_ALL also stores only the lanes ms (its n
 * outputs). */
typedef struct {
    int64_t ox0, col0;
    int edge;
    __m256i ms;
    __m256i m[DW_NMASK];
} dw_strip;

#define DW_VEC __m256
#define DW_VSET1 _mm256_set1_ps
#define DW_TAPS_IN_REGS 0
#define DW_HAS_EDGE_STORE 0
#include "dwconv_kxk_strips.h"

/* The strip of n <= 8 outputs from ox0: its load masks and the cheapest edge mode that is correct
 * for them. inside: every column it reads is inside the row and n is 8 (DW_FN_MC's
 * ox_first..ox_last). */
static void dw_strip_plan(dw_strip *sp, const dw_ctx *c, int64_t ox0, int64_t col0, int64_t n, int inside) {
    sp->ox0 = ox0;
    sp->col0 = col0;
    /* Stride 2 stores lanes in the natural order (after the vpermpd). */
    sp->ms = lane_range(0, n);
    /* Lanes that read a column inside [0, in_w) and belong to one of the n outputs. */
    const int64_t in_w = c->in_w;
    __m256i *m = sp->m;
#if DW_S == 1
    for (int kx = 0; kx < DW_K; kx++) {
        const int64_t first = col0 + kx * c->dil_w;
        m[kx] = lane_range(-first, in_w - first < n ? in_w - first : n);
    }
#else
    /* Pair p covers columns col0 + 2p + [0, 16): lanes up to 2n-1 are all that
     * the n outputs use, and the last pair only needs its even columns. */
    for (int p = 0; p < DW_PAIRS; p++) {
        const int64_t first = col0 + 2 * p;
        const int64_t want = p == DW_PAIRS - 1 ? 2 * n - 1 : 2 * n;
        const int64_t hi = in_w - first < want ? in_w - first : want;
        m[2 * p] = lane_range(-first, hi);
        m[2 * p + 1] = lane_range(-first - DW_LANES, hi - DW_LANES);
    }
#endif
    int left = n == DW_LANES, right = n == DW_LANES;
    for (int j = 0; j < DW_NMASK; j++) {
        /* (stride 2's last vector: lanes 0..6 are all the unmasked load reads, see dw_block) */
        const int full = DW_S == 2 && j == DW_NMASK - 1 ? 0x7F : 0xFF;
        if ((_mm256_movemask_ps(_mm256_castsi256_ps(m[j])) & full) == full) continue;
        left &= DW_MASKS_LOAD(DW_EDGE_LEFT, j);
        right &= DW_MASKS_LOAD(DW_EDGE_RIGHT, j);
    }
    sp->edge = inside ? DW_EDGE_NONE : left ? DW_EDGE_LEFT : right ? DW_EDGE_RIGHT : DW_EDGE_ALL;
}

#if DW_K == 3 && DW_S == 1
/* ---- Narrow planes (3x3, stride 1, dilation 1, left pad 1): whole rows in registers -------
 * A row of up to 16 columns is NV = 1 or 2 vectors (masked loads: columns past in_w are 0).
 * Output vector j's taps kx = 0, 2 are the row moved one lane either way across the vector
 * boundary (vperm2f128 + vpalignr), kx = 1 the vector itself: one load per row vector where
 * two border strips make three masked loads each. TSC cycles per output row, min of 3000
 * calls, old and new alternated: 384x14x14 19.3 -> 15.4 (14.4 with whole first vectors, see
 * dw_narrow_try), 256x12x12 19.2 -> 14.9, 64x9x9 21.0 -> 14.6, 64x16x16 17.2 -> 15.1, 1024x7x7
 * 9.2 -> 8.5. Wider rows stay in strips (four vectors a row, not tried: with 16 registers a pass
 * would be 2 rows). */
#define DW_NRN 4 /* rows per pass at most: 2 x 4 accumulators + the row, its moved copy, zero and taps */
#define DW_NRN_MIN 3

/* Lanes 8j + kx - 1 .. of [0.., lo, hi, 0..]: vector j of the row, moved for tap column kx. */
DW_INLINE __m256 dw_row_tap(__m256 lo, __m256 hi, const int j, const int kx) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 prev = j ? lo : zero, cur = j ? hi : lo, next = j ? zero : hi;
    if (kx == 1) return cur;
    if (kx == 0) { /* prev[7], cur[0..6] */
        const __m256 t = _mm256_permute2f128_ps(prev, cur, 0x21);
        return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(cur), _mm256_castps_si256(t), 12));
    }
    /* cur[1..7], next[0] */
    const __m256 t = _mm256_permute2f128_ps(cur, next, 0x21);
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(t), _mm256_castps_si256(cur), 4));
}

/* R output rows of NV vectors; input rows outside [vlo, vhi) are padding. */
DW_INLINE void dw_narrow_block(const float *in, int64_t in_w, int64_t row0, __m256i load0, __m256i load1,
                               __m256i store0, __m256i store1, const __m256 *vt, __m256 vbias, __m256 vmin,
                               __m256 vmax, int clamped, float *o, int64_t os, const int NV, const int R, int64_t nr,
                               const int checked, int64_t vlo, int64_t vhi) {
    __m256 acc[2][DW_NRN];
    for (int j = 0; j < NV; j++)
        for (int i = 0; i < R; i++) acc[j][i] = vbias;
#pragma GCC unroll 8
    for (int v = 0; v < R + DW_K - 1; v++) {
        if (checked && (v < vlo || v >= vhi)) continue;
        const float *row = in + (row0 + v) * in_w;
        /* (two vectors: the first is whole, see dw_narrow_try) */
        __m256 lo = NV == 2 ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, load0), hi = _mm256_setzero_ps();
        DW_KEEP(lo);
        if (NV == 2) {
            hi = _mm256_maskload_ps(row + DW_LANES, load1);
            DW_KEEP(hi);
        }
#pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
#pragma GCC unroll 3
            for (int kx = 0; kx < DW_K; kx++) {
                const __m256 x = dw_row_tap(lo, hi, j, kx);
#pragma GCC unroll 8
                for (int i = 0; i < R; i++) {
                    const int ky = v - i;
                    if (ky >= 0 && ky < DW_K) acc[j][i] = _mm256_fmadd_ps(vt[ky * DW_K + kx], x, acc[j][i]);
                }
            }
        }
    }
    if (clamped)
        for (int j = 0; j < NV; j++)
            for (int i = 0; i < R; i++) acc[j][i] = clamp_ps(acc[j][i], vmin, vmax);
    for (int i = 0; i < R; i++) {
        if (checked && i >= nr) break;
        if (NV == 2) {
            _mm256_storeu_ps(o + i * os, acc[0][i]);
            _mm256_maskstore_ps(o + i * os + DW_LANES, store1, acc[1][i]);
        } else {
            _mm256_maskstore_ps(o + i * os, store0, acc[0][i]);
        }
    }
}

DW_INLINE void dw_narrow_run(const dw_ctx *c, const int NV, const int R) {
    const int64_t in_w = c->in_w, in_h = c->in_h, out_w = c->out_w, V = R + DW_K - 1;
    const __m256 vmin = _mm256_set1_ps(c->cmin), vmax = _mm256_set1_ps(c->cmax);
    const int clamped = c->cmin != -INFINITY || c->cmax != INFINITY;
    const __m256i load0 = lane_range(0, in_w), load1 = lane_range(0, in_w - DW_LANES);
    const __m256i store0 = lane_range(0, out_w), store1 = lane_range(0, out_w - DW_LANES);
    for (size_t ch = 0; ch < c->channels; ch++) {
        const float *in = c->in + (int64_t)ch * c->in_stride;
        float *out = c->out + (int64_t)ch * c->out_stride;
        const float *w = c->w + ch * (DW_K * DW_K + 1);
        __m256 vt[DW_K * DW_K];
        for (int t = 0; t < DW_K * DW_K; t++) vt[t] = _mm256_set1_ps(w[1 + t]);
        const __m256 vbias = _mm256_set1_ps(w[0]);
        for (int64_t oy = c->oy_begin; oy < c->oy_end; oy += R) {
            const int64_t nr = c->oy_end - oy < R ? c->oy_end - oy : R, row0 = oy - c->pad_top;
            float *o = out + oy * out_w;
            if (nr == R && row0 >= 0 && row0 + V - 1 < in_h) {
                dw_narrow_block(in, in_w, row0, load0, load1, store0, store1, vt, vbias, vmin, vmax, clamped, o, out_w,
                                NV, R, R, 0, 0, V);
                continue;
            }
            int64_t vlo, vhi;
            gconv_rows_inside(row0, 1, V, in_h, &vlo, &vhi);
            dw_narrow_block(in, in_w, row0, load0, load1, store0, store1, vt, vbias, vmin, vmax, clamped, o, out_w, NV,
                            R, nr, 1, vlo, vhi);
        }
    }
}

typedef void (*dw_narrow_fn)(const dw_ctx *);
#define DW_NARROW_FN(NAME, NV, R) \
    DW_NOINLINE void NAME(const dw_ctx *c) { dw_narrow_run(c, NV, R); }
DW_NARROW_FN(dw_narrow_1r3, 1, 3)
DW_NARROW_FN(dw_narrow_1r4, 1, 4)
DW_NARROW_FN(dw_narrow_2r3, 2, 3)
DW_NARROW_FN(dw_narrow_2r4, 2, 4)
#undef DW_NARROW_FN

/* Takes the plane if it is narrow enough (see above); returns 0 otherwise. Two vectors take rows
 * of 9..16 columns, so that the first one loads and stores whole, without vmaskmovps (with
 * pad_left 1, out_w >= in_w - 1): 384x14x14 15.4 -> 14.4 cycles per row. Passes are equal
 * (gconv_equal_pass_rows; 14 rows: 4 + 4 + 3 + 3). */
static int dw_narrow_try(const dw_ctx *c, int64_t pad_left) {
    const int64_t in_w = c->in_w, out_w = c->out_w;
    const int one_vector = in_w <= DW_LANES && out_w <= DW_LANES;
    const int two_vectors = in_w > DW_LANES && in_w <= 2 * DW_LANES && out_w <= 2 * DW_LANES;
    if (c->dil_w != 1 || c->vpitch != 1 || pad_left != 1 || !(one_vector || two_vectors)) return 0;
    static const dw_narrow_fn one[2] = {dw_narrow_1r3, dw_narrow_1r4};
    static const dw_narrow_fn two[2] = {dw_narrow_2r3, dw_narrow_2r4};
    const int64_t r = gconv_equal_pass_rows(c->oy_end - c->oy_begin, DW_NRN);
    const dw_narrow_fn *fns = one_vector ? one : two;
    fns[r < DW_NRN_MIN ? 0 : r - DW_NRN_MIN](c);
    return 1;
}
#endif

void DW_FN_MC(const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride, const float *w,
              float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t out_plane = g->out_h * g->out_w;
    if (g->kernel_h != DW_K || g->kernel_w != DW_K || g->stride_h != DW_S || g->stride_w != DW_S ||
        (DW_S != 1 && (g->dilation_h != 1 || g->dilation_w != 1))) {
        for (size_t ch = 0; ch < channels; ch++)
            gconv_f32_dwconv_generic__avx2(g, in + ch * in_stride, w + ch * (size_t)(g->kernel_h * g->kernel_w + 1),
                                           out + (int64_t)ch * out_plane, oy_begin, oy_end, clamp);
        return;
    }
    if (oy_begin >= oy_end || channels == 0) return;
    dw_ctx c;
    c.in = in;
    c.out = out;
    c.w = w;
    c.channels = channels;
    c.in_stride = (int64_t)in_stride;
    c.out_stride = out_plane;
    c.in_h = g->in_h;
    c.in_w = g->in_w;
    c.out_w = g->out_w;
    c.oy_begin = oy_begin;
    c.oy_end = oy_end;
    c.pad_top = g->pad_top;
    c.dil_w = DW_S == 1 ? g->dilation_w : 1;
    c.vpitch = DW_S == 1 ? g->dilation_h : 1;
    c.ostep = DW_S == 1 ? g->dilation_h : 1;
    c.cmin = clamp->min;
    c.cmax = clamp->max;
    dw_plane_prefetch_none(&c.pf);

    const int64_t pad_left = g->pad_left, in_w = g->in_w, out_w = g->out_w;
#if DW_K == 3 && DW_S == 1
    if (dw_narrow_try(&c, pad_left)) return;
#endif
    /* Interior strips: first column read >= 0, last <= in_w - 1, 8 outputs. */
#if DW_S == 1
    const int64_t ox_first = pad_left;
    int64_t ox_last = in_w - DW_LANES + pad_left - (DW_K - 1) * c.dil_w;
#else
    /* reads columns col0 .. col0 + 2 * (PAIRS - 1) + 14, col0 = 2 * ox0 - pad_left */
    const int64_t ox_first = (pad_left + 1) / 2;
    int64_t ox_last = in_w - 15 - 2 * (DW_PAIRS - 1) + pad_left;
    ox_last = ox_last >= 0 ? ox_last / 2 : -1;
#endif
    if (ox_last > out_w - DW_LANES) ox_last = out_w - DW_LANES;
    /* Narrow planes: all channels in one dw_strips call; wide ones channel by channel, each call
     * fetching the next channel's plane into cache while it runs (dw_plane_prefetch). */
    const size_t per_call = out_w <= 2 * DW_LANES ? channels : 1;
    /* As in dwconv_kxk_avx512.h: with rows a whole number of vectors apart, a
     * first strip of `head` columns puts every later strip's stores on 32-byte
     * boundaries, so that no store splits a cache line. */
    const int64_t lead = (int64_t)(((uintptr_t)out / sizeof(float)) % DW_LANES);
    const int64_t head = per_call == 1 && out_plane >= DW_ALIGN_MIN_PLANE && out_w % DW_LANES == 0 &&
                                 (uintptr_t)out % sizeof(float) == 0 && lead
                             ? DW_LANES - lead
                             : DW_LANES;
    const int64_t ns = (out_w - head + DW_LANES - 1) / DW_LANES + 1; /* strips in a row */
    dw_strip strips[DW_ROW_STRIPS_MAX];
    for (size_t ch = 0; ch < channels; ch += per_call) {
        dw_ctx cc = c;
        cc.in = in + ch * in_stride;
        cc.out = out + (int64_t)ch * out_plane;
        cc.w = w + ch * (size_t)(DW_K * DW_K + 1);
        cc.channels = per_call;
        if (per_call == 1 && ch + 1 < channels) {
            const int64_t passes = ns * ((oy_end - oy_begin + DW_R - 1) / DW_R + c.ostep);
            dw_plane_prefetch_rows(&cc.pf, in_stride ? in + (ch + 1) * in_stride : NULL, g->in_h, in_w,
                                   out + (int64_t)(ch + 1) * out_plane, out_w, oy_begin, oy_end, DW_S, g->pad_top,
                                   (DW_K - 1) * c.vpitch + 1, out_plane < DW_PF_TWO_STREAMS_MAX_PLANE ? 2 : 1, passes);
        }
        /* Strips of [0, head), then 8 at a time, up to DW_ROW_STRIPS_MAX to a dw_strips call. */
        for (int64_t ox0 = 0; ox0 < out_w;) {
            int64_t group = 0;
            for (; group < DW_ROW_STRIPS_MAX && ox0 < out_w; group++) {
                const int64_t width = ox0 == 0 ? head : DW_LANES;
                const int64_t n = out_w - ox0 < width ? out_w - ox0 : width;
                dw_strip_plan(&strips[group], &cc, ox0, DW_S * ox0 - pad_left, n,
                              n == DW_LANES && ox0 >= ox_first && ox0 <= ox_last);
                ox0 += n;
            }
            dw_strips(&cc, strips, group);
        }
    }
}

void DW_FN(const gconv_dw_geom *g, const float *in, const float *w, float *out, int64_t oy_begin,
           int64_t oy_end, const gconv_minmax *clamp) {
    DW_FN_MC(g, 1, in, 0, w, out, oy_begin, oy_end, clamp);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
