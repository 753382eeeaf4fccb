/* Body of the f32-dwconv-KxKsS-avx512 kernels: each .c file defines DW_K (3 or 5, or 7
 * at stride 1), DW_S (1 or 2), DW_FN (one plane) and DW_FN_MC (several channels), then
 * includes this header once.
 *
 * What sets the pace of a direct NCHW depthwise conv on an AVX-512 core: the
 * FMAs (K*K per 16 outputs) and the input loads, which are 64-byte loads at
 * arbitrary column offsets, so they nearly always straddle two cache lines;
 * such split loads issue at about one per cycle, half the FMA rate. Hence:
 *  - a row of outputs is cut into strips of 16 columns, and the plane is swept
 *    in passes of up to DW_R output rows, each across all the row's strips:
 *    every input row vector loaded in a pass feeds all the output rows of the
 *    pass that use it, (R+K-1)*K loads for R*K*K FMAs, and the R accumulators
 *    are independent FMA chains that hide FMA latency. A pass reads its input
 *    rows once, left to right, and then leaves them; sweeping each strip down
 *    the whole plane instead read every row once per strip, from further out
 *    in cache (same bits; 1 thread, A/B in one binary, pass across the row
 *    over strip down the plane: 3x3s1 on 32x112x112 0.92, 144x56x56 0.93;
 *    3x3s2 on 96x112x112 0.97, 144x56x56 0.92, 96x56x56 0.85; 5x5s1 on
 *    240x28x28 0.94, 480x28x28 0.83; 5x5s2 on 72x56x56 0.90);
 *  - a loaded vector is pinned in a register (DW_KEEP): left alone, GCC folds
 *    the load into every FMA (or permute) that uses it, multiplying the loads;
 *  - taps are unrolled at compile time and broadcast once per channel and
 *    strip (5x5 stride 1: per column of taps, see dw_block).
 *
 * Borders: a strip that touches the padding loads with lane masks (computed
 * once per strip) that enable only columns inside the row; masked-off lanes
 * read nothing and are 0, which is what zero padding adds (at a row's ends
 * only the loads that reach past it are masked: DW_EDGE_*). Input rows outside
 * the plane are skipped. So any padding works, also more than the kernel
 * needs, and nothing outside the plane is read or written. (A tap that is
 * Inf or NaN therefore gives NaN where it meets padding, as in PyTorch; the
 * scalar kernel skips padded taps instead.)
 *
 * Stride 2 splits float pairs into even and odd columns with permutex2var.
 * In the interior, taps kx = 2, 3, 4 are the kx - 2 vectors moved one lane
 * (valignd) with the one missing column broadcast from memory: a 4-byte load
 * never splits, so each input row costs two split loads instead of K + 1.
 *
 * Small planes (14x14: one strip, ~15 output vectors) are dominated by what a
 * call costs: setup and the latency of the first FMA chains. The multi-channel
 * entry runs a strip for a whole run of channels with the masks computed once,
 * and consecutive channels' independent work overlaps in the core.
 *
 * Stride 1 takes its dilation from the geometry: with dilation d the rows
 * oy, oy+d, oy+2d, .. share input rows, so a pass takes every d-th output row.
 * Stride 2 expects dilation 1 (the table says so). A geometry this kernel is
 * not built for goes to the generic kernel, so calling it directly is safe.
 */
#if !defined(DW_K) || !defined(DW_S) || !defined(DW_FN) || !defined(DW_FN_MC)
#error "define DW_K, DW_S, DW_FN and DW_FN_MC before including this file"
#endif
#if DW_S == 2 && DW_K > 5
#error "the stride-2 body computes taps up to kx = 4"
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma,prfchw"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma,prfchw")
#endif

#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx512.h"
#define DW_PF_OUT_HINT _MM_HINT_ET0
#include "dwconv_plane_prefetch.h"

#include <math.h>

#define DW_LANES 16
/* Output rows per pass. 3x3 stride 1: 16 accumulators + 9 taps + 1 input fit in
 * the 32 zmm registers and cut the loads to 18/16 per output row. 5x5 stride 1
 * measured best at 8 (16 accumulators lengthened the dependent chains more
 * than they saved loads); stride 2 reads 2R+K-2 rows per pass. A pass that has
 * at most half of DW_R rows left runs a DW_R/2 pass instead. */
#if DW_K == 3 && DW_S == 1
#define DW_R 16
#else
#define DW_R 8
#endif
/* Input rows ("virtual rows") a pass of r output rows reads. */
#define DW_VR(r) (DW_S * ((r) - 1) + DW_K)
#define DW_V DW_VR(DW_R)
/* Stride 2, strips touching the border: float pairs at column offsets 0, 2, .., K-1. */
#define DW_PAIRS (DW_K / 2 + 1)
#if DW_S == 1
#define DW_NMASK DW_K
#else
#define DW_NMASK (2 * DW_PAIRS)
#endif

/* Output planes (floats) from which strips are aligned to the output's cache
 * lines (see DW_FN_MC); 3x3 stride 1 only, where an output vector costs the
 * fewest FMAs: with 5x5 on 24x112x112 the extra strip cost more (19.5 -> 20.8
 * cycles per vector) and stride 2 gained nothing. */
#if DW_K == 3 && DW_S == 1
#define DW_ALIGN_MIN_PLANE 8192
#else
#define DW_ALIGN_MIN_PLANE INT64_MAX
#endif

/* Output planes (floats) below which the next plane is prefetched as two runs (dwconv_plane_prefetch.h) */
#if DW_K == 3 && DW_S == 1
#define DW_PF_TWO_STREAMS_MAX_PLANE 8192
#elif DW_K == 3
#define DW_PF_TWO_STREAMS_MAX_PLANE INT64_MAX
#else
#define DW_PF_TWO_STREAMS_MAX_PLANE 0
#endif

/* Input planes (floats) from which the next channel's input plane is not prefetched (its output
 * plane still is). A pass now reads its rows in order, which the L2 streamer follows; fetching a
 * whole plane of 16 KB or more into L1 on top of that pushes out the rows the passes are using.
 * 1 thread, A/B in one binary, without it: 3x3s2 on 96x112x112 0.92, 64x112x112 0.92, 96x96x96
 * 0.97, 128x80x80 0.96, 144x64x64 0.99, but 144x56x56 1.06 and 192x40x40 1.02; 3x3s1 on
 * 16x112x112 0.91, 48x96x96 0.95, 64x80x80 0.95, 96x64x64 0.95, 144x56x56 and 96x48x48 1.00; 5x5s2 on
 * 72x112x112 0.96; but 5x5s1 on 32x112x112 1.09 (more FMAs per byte), which keeps it. The AVX2
 * twin, with twice the instructions per byte, keeps it everywhere (3x3s2 without it 1.01-1.07). */
#if DW_K == 5 && DW_S == 1 || DW_K == 7
#define DW_PF_IN_MAX_PLANE INT64_MAX
#else
#define DW_PF_IN_MAX_PLANE 4096
#endif

/* Whether a row's last strip, where out_w is no multiple of 16, computes 16 outputs that overlap
 * its neighbour's, masking only the loads past the row's end (DW_EDGE_*), rather than the ones
 * left with every load masked. 1 thread, A/B in one process: the tail alone, 3x3 stride 2 on
 * 32x112x200 0.96 of the time; with the edge masks, 3x3 stride 2 on 128x56x56 0.76 and 5x5
 * stride 1 on 240x28x28 0.90. 3x3 stride 1 took 0.99-1.01 on 32x112x{56,100,104}, whose passes
 * wait on memory more than on the masked loads, and 1.05 where the tail is 4 outputs after a
 * head strip (32x112x112, output 16 bytes off a line), so it keeps the narrow tail. */
#if DW_K == 3 && DW_S == 1
#define DW_WHOLE_TAIL 0
#else
#define DW_WHOLE_TAIL 1
#endif

/* The most input and output bytes for which narrow planes run each strip over all channels (see
 * DW_FN_MC) */
#define DW_STRIPS_MAX_BYTES ((int64_t)2 << 20)

#if defined(__GNUC__) || defined(__clang__)
#define DW_INLINE static inline __attribute__((always_inline))
#define DW_NOINLINE static __attribute__((noinline))
#define DW_KEEP(x) __asm__("" : "+v"(x))
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
     * 0.103 ms (1 thread, data in L3). The output lines are prefetched for
     * writing (prefetchw, which every AVX-512 CPU has): a plain prefetch
     * fetches them shared, and the store then asks for ownership again. 3x3s2
     * on 96x112x112 took 0.92 of its time, 3x3s1 on 32x112x112 0.96 (A/B in
     * one process). */
    dw_plane_prefetch pf;
} dw_ctx;

/* How a strip's passes load and store (dw_block's `edge`). A masked load costs a port-5 uop on
 * top of the load, on the port that the FMAs and shuffles need: a pass with every load masked
 * took 10.7 TSC cycles per output vector, an unmasked one 8.0 (3x3 stride 2, L1-resident). So
 * the strips at a row's ends mask only the loads that reach past it, and every strip computes
 * 16 outputs (DW_FN_MC); a masked store, which costs no more than a plain one, keeps the outputs
 * that a strip shares with its neighbour from being written twice. */
enum {
    DW_EDGE_NONE,  /* every column read is inside the row; all 16 outputs stored */
    DW_EDGE_STORE, /* every column read is inside the row; the store masked */
    DW_EDGE_LEFT,  /* stride 1: the loads of tap columns kx < K/2 masked; stride 2: col0 is -K/2, and
                    * no load needs a mask (see dw_block) */
    DW_EDGE_RIGHT, /* stride 1 only: the loads of tap columns kx > K/2 masked */
    DW_EDGE_ALL,   /* every load masked (from 16 outputs down to 1) */
}; /* (in this order: the last three take the load masks) */
/* Stride 1: whether edge masks tap column kx's loads */
#define DW_MASKS_KX(edge, kx) \
    ((edge) == DW_EDGE_ALL || ((edge) == DW_EDGE_LEFT && (kx) < DW_K / 2) || ((edge) == DW_EDGE_RIGHT && (kx) > DW_K / 2))

/* Zero-masked load. The intrinsic would do, but GCC then moves every mask
 * from a general register into a k register again before each load (a port-5
 * uop, which FMAs also need); as an asm operand the masks stay in k registers. */
static inline __m512 dw_load_masked(__mmask16 k, const float *p) {
#if defined(__GNUC__) && !defined(__clang__)
    __m512 x;
    __asm__("vmovups %1, %0%{%2%}%{z%}" : "=v"(x) : "m"(*(const float(*)[DW_LANES])p), "Yk"(k));
    return x;
#else
    return _mm512_maskz_loadu_ps(k, p);
#endif
}

/* Bits [lo, hi) of a 32-bit mask, both clipped to [0, 32]. */
static inline uint32_t bit_range(int64_t lo, int64_t hi) {
    lo = gconv_clamp_i64(lo, 0, 32);
    hi = gconv_clamp_i64(hi, 0, 32);
    if (hi <= lo) return 0;
    return (uint32_t)(((uint64_t)1 << hi) - ((uint64_t)1 << lo));
}

/* Same NaN rules as gconv_clampf: max/min return their second operand when
 * either input is NaN, so a NaN sum leaves the clamp without effect. */
/* [a[n..15], b[0..n-1]]: a moved down n lanes, b's first lanes filling the top. valignd takes
 * an immediate; n is a constant once the caller's tap loop is unrolled and this is inlined (-O3),
 * where the switch folds to the one instruction. Without optimization (the sanitizer build) n
 * reaches here as a variable, and the switch keeps that build compiling and correct. */
#define DW_ALIGNR_CASE(k) \
    case k:               \
        return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), k));
static inline __attribute__((always_inline)) __m512 dw_shift(__m512 b, __m512 a, int n) {
    switch (n & 15) {
        DW_ALIGNR_CASE(0) DW_ALIGNR_CASE(1) DW_ALIGNR_CASE(2) DW_ALIGNR_CASE(3)
        DW_ALIGNR_CASE(4) DW_ALIGNR_CASE(5) DW_ALIGNR_CASE(6) DW_ALIGNR_CASE(7)
        DW_ALIGNR_CASE(8) DW_ALIGNR_CASE(9) DW_ALIGNR_CASE(10) DW_ALIGNR_CASE(11)
        DW_ALIGNR_CASE(12) DW_ALIGNR_CASE(13) DW_ALIGNR_CASE(14) default: DW_ALIGNR_CASE(15)
    }
}
#undef DW_ALIGNR_CASE
#define DW_SHIFT(b, a, n) dw_shift((b), (a), (n))

/* acc[i] += the taps of kernel row v - S*i, column kx, times x. */
#define DW_FMA_ROWS(v, kx, x)                                                                   \
    do {                                                                                        \
        _Pragma("GCC unroll 16") for (int i_ = 0; i_ < R; i_++) {                               \
            const int ky_ = (v) - DW_S * i_;                                                    \
            if (ky_ >= 0 && ky_ < DW_K) acc[i_] = _mm512_fmadd_ps(vt[ky_ * DW_K + (kx)], (x), acc[i_]); \
        }                                                                                       \
    } while (0)

/* One pass: R output rows x 16 columns, of which the first nr rows are
 * stored. r: the first column this strip reads in virtual row vlo (the first
 * row inside the plane); rs: floats between virtual rows; o: the first output,
 * os: floats between the pass's output rows. checked == 0: all DW_V virtual rows
 * are inside the plane (vlo = 0) and nr = DW_R. edge: which loads take the masks m;
 * all but DW_EDGE_NONE store the lanes ms. */
DW_INLINE void dw_block(const float *r, int64_t rs, int64_t d, const float *taps, const __m512 *vt, __m512 vbias, __m512 vmin,
                        __m512 vmax, int clamped, float *o, int64_t os, const int R, int64_t nr,
                        const int edge, const int checked, int64_t vlo, int64_t vhi, const __mmask16 *m,
                        __mmask16 ms) {
    __m512 acc[DW_R];
    for (int i = 0; i < R; i++) acc[i] = vbias;
    __mmask16 km[DW_NMASK];
    for (int j = 0; j < DW_NMASK; j++) km[j] = edge >= DW_EDGE_LEFT ? m[j] : 0;
#if DW_S == 2
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    (void)d;
    /* DW_EDGE_LEFT: lane m of tap column kx is column 2m + kx - K/2 of the vectors from column 0 */
    __m512i left_idx[DW_K];
    for (int kx = 0; kx < DW_K; kx++) left_idx[kx] = _mm512_add_epi32(even, _mm512_set1_epi32(kx - DW_K / 2));
#endif
#if DW_S == 1 && DW_K >= 5
    /* Column of taps by column of taps: only the K taps of column kx are live,
     * which leaves registers for the R accumulators even with 25 or 49 taps (row
     * by row, GCC keeps reloading spilled taps from the stack). */
#pragma GCC unroll 8
    for (int kx = 0; kx < DW_K; kx++) {
        __m512 vt[DW_K * DW_K];
        for (int ky = 0; ky < DW_K; ky++) vt[ky * DW_K + kx] = _mm512_set1_ps(taps[ky * DW_K + kx]);
        const float *p = r + kx * d;
#pragma GCC unroll 40
        for (int v = 0; v < DW_VR(R); v++) {
            if (checked && (v < vlo || v >= vhi)) continue;
            __m512 x = DW_MASKS_KX(edge, kx) ? dw_load_masked(km[kx], p) : _mm512_loadu_ps(p);
            DW_KEEP(x);
            DW_FMA_ROWS(v, kx, x);
            p += rs;
        }
    }
#elif DW_S == 1
    (void)taps;
#pragma GCC unroll 40
    for (int v = 0; v < DW_VR(R); v++) {
        if (checked && (v < vlo || v >= vhi)) continue;
#pragma GCC unroll 8
        for (int kx = 0; kx < DW_K; kx++) {
            const float *p = r + kx * d;
            __m512 x = DW_MASKS_KX(edge, kx) ? dw_load_masked(km[kx], p) : _mm512_loadu_ps(p);
            DW_KEEP(x);
            DW_FMA_ROWS(v, kx, x);
        }
        r += rs;
    }
#else
    (void)taps;
#pragma GCC unroll 40
    for (int v = 0; v < DW_VR(R); v++) {
        if (checked && (v < vlo || v >= vhi)) continue;
        if (edge == DW_EDGE_NONE || edge == DW_EDGE_STORE) {
            /* r[0..31] holds taps 0 and 1; the other taps need r[32..K+29]. */
            __m512 lo = _mm512_loadu_ps(r), hi = _mm512_loadu_ps(r + DW_LANES);
            DW_KEEP(lo);
            DW_KEEP(hi);
            const __m512 x0 = _mm512_permutex2var_ps(lo, even, hi);
            const __m512 x1 = _mm512_permutex2var_ps(lo, odd, hi);
            DW_FMA_ROWS(v, 0, x0);
            DW_FMA_ROWS(v, 1, x1);
            const __m512 x2 = DW_SHIFT(_mm512_set1_ps(r[32]), x0, 1);
            DW_FMA_ROWS(v, 2, x2);
#if DW_K == 5
            const __m512 x3 = DW_SHIFT(_mm512_set1_ps(r[33]), x1, 1);
            DW_FMA_ROWS(v, 3, x3);
            const __m512 x4 = DW_SHIFT(_mm512_set1_ps(r[34]), x2, 1);
            DW_FMA_ROWS(v, 4, x4);
#endif
        } else if (edge == DW_EDGE_LEFT) {
            /* The strip at column -K/2: both vectors from column 0 (r0[0..31], inside the row),
             * so no load needs a mask. Tap columns kx <= K/2 + 1 permute them, and the permute's
             * zero mask clears the lane left of column 0 (free, where a masked load costs a
             * uop); the higher ones are kx - 2 moved one lane, as in the interior. */
            const float *r0 = r + DW_K / 2;
            __m512 lo = _mm512_loadu_ps(r0), hi = _mm512_loadu_ps(r0 + DW_LANES);
            DW_KEEP(lo);
            DW_KEEP(hi);
            __m512 x[DW_K];
#pragma GCC unroll 8
            for (int kx = 0; kx < DW_K; kx++) {
                const int j = kx - DW_K / 2;
                if (j < 0)
                    x[kx] = _mm512_maskz_permutex2var_ps((__mmask16)0xFFFE, lo, left_idx[kx], hi);
                else if (j <= 1)
                    x[kx] = _mm512_permutex2var_ps(lo, left_idx[kx], hi);
                else
                    x[kx] = DW_SHIFT(_mm512_set1_ps(r0[2 * (DW_LANES - 1) + j]), x[kx - 2], 1);
                DW_FMA_ROWS(v, kx, x[kx]);
            }
        } else {
#pragma GCC unroll 8
            for (int p = 0; p < DW_PAIRS; p++) {
                const float *q = r + 2 * p;
                __m512 lo = dw_load_masked(km[2 * p], q);
                __m512 hi = dw_load_masked(km[2 * p + 1], q + DW_LANES);
                /* vpermt2ps overwrites a source: without this GCC reloads both halves per permute */
                DW_KEEP(lo);
                DW_KEEP(hi);
                const __m512 xe = _mm512_permutex2var_ps(lo, even, hi);
                DW_FMA_ROWS(v, 2 * p, xe);
                if (2 * p + 1 < DW_K) {
                    const __m512 xo = _mm512_permutex2var_ps(lo, odd, hi);
                    DW_FMA_ROWS(v, 2 * p + 1, xo);
                }
            }
        }
        r += rs;
    }
#endif
    if (clamped)
        for (int i = 0; i < R; i++) acc[i] = clamp_ps(acc[i], vmin, vmax);
    for (int i = 0; i < R; i++) {
        if (checked && i >= nr) break;
        if (edge != DW_EDGE_NONE)
            _mm512_mask_storeu_ps(o + i * os, ms, acc[i]);
        else
            _mm512_storeu_ps(o + i * os, acc[i]);
    }
}

/* A strip: the 16 output columns from ox0 (col0: the first input column its kx = 0 tap reads), of
 * which it stores the lanes ms; edge says which of its loads take the masks m. */
typedef struct {
    int64_t ox0, col0;
    int edge;
    __mmask16 ms;
    __mmask16 m[DW_NMASK];
} dw_strip;

#define DW_VEC __m512
#define DW_VSET1 _mm512_set1_ps
/* (5x5 and 7x7 stride 1 broadcast a column of taps at a time, see dw_block) */
#define DW_TAPS_IN_REGS (DW_S == 2 || DW_K == 3)
#define DW_HAS_EDGE_STORE 1
#include "dwconv_kxk_strips.h"

/* The strip that computes n <= 16 outputs from ox0 and stores the lanes ms: its load masks and the
 * cheapest edge mode that is correct for them. inside: every column it reads is inside the row
 * (DW_FN_MC's ox_first..ox_last). */
static void dw_strip_plan(dw_strip *sp, const dw_ctx *c, int64_t ox0, int64_t col0, int64_t n, __mmask16 ms,
                          int inside) {
    sp->ox0 = ox0;
    sp->col0 = col0;
    sp->ms = ms;
    if (inside && ms == (__mmask16)0xFFFF) {
        sp->edge = DW_EDGE_NONE;
        for (int j = 0; j < DW_NMASK; j++) sp->m[j] = (__mmask16)0xFFFF;
        return;
    }
    /* Lanes that read a column inside [0, in_w) and belong to one of the n outputs. */
    const int64_t in_w = c->in_w;
    __mmask16 *m = sp->m;
#if DW_S == 1
    for (int kx = 0; kx < DW_K; kx++) {
        const int64_t first = col0 + kx * c->dil_w;
        m[kx] = (__mmask16)bit_range(-first, in_w - first < n ? in_w - first : n);
    }
#else
    /* Pair p covers columns col0 + 2p + [0, 32); lanes up to 2n-1 are all that
     * the n outputs use, and the last pair only needs its even columns. */
    for (int p = 0; p < DW_PAIRS; p++) {
        const int64_t first = col0 + 2 * p;
        const int64_t want = p == DW_PAIRS - 1 ? 2 * n - 1 : 2 * n;
        const uint32_t bits = bit_range(-first, in_w - first < want ? in_w - first : want);
        m[2 * p] = (__mmask16)(bits & 0xFFFF);
        m[2 * p + 1] = (__mmask16)(bits >> 16);
    }
#endif
    if (n < DW_LANES) {
        sp->edge = DW_EDGE_ALL;
        return;
    }
    if (inside) {
        sp->edge = DW_EDGE_STORE;
        return;
    }
#if DW_S == 1
    int left = 1, right = 1;
    for (int kx = 0; kx < DW_K; kx++) {
        if (m[kx] == (__mmask16)0xFFFF) continue;
        left &= DW_MASKS_KX(DW_EDGE_LEFT, kx);
        right &= DW_MASKS_KX(DW_EDGE_RIGHT, kx);
    }
    sp->edge = left ? DW_EDGE_LEFT : right ? DW_EDGE_RIGHT : DW_EDGE_ALL;
#else
    /* DW_EDGE_LEFT reads columns 0..31 and, for K = 5, column 32 */
    const int64_t left_reads = DW_LANES * 2 + (DW_K / 2 > 1 ? DW_K / 2 - 1 : 0);
    sp->edge = col0 == -(DW_K / 2) && in_w >= left_reads ? DW_EDGE_LEFT : DW_EDGE_ALL;
#endif
}

#if DW_K == 3
/* ---- Narrow planes (3x3): whole input rows in registers -------------------
 * A row of up to 32 columns is NI = 1 or 2 vectors, fetched by NI masked loads
 * (columns past in_w come in as 0). Lane m of output vector j, tap column kx,
 * reads lane S*(16j + m) + kx*d - pad_left of that row with zeros on both sides:
 * the row's vectors moved by whole lanes (valignd against the neighbouring
 * vector or zero where d and pad_left are compile-time constants, else
 * vpermt2ps by an index vector). One load per row vector where a strip makes
 * K masked split loads per strip, and with any dilation the columns stay in
 * order. 14x14 (MobileNet's late layers), 28x28 (its middle ones) and 28x28
 * dilated (DeepLab) land here. TSC cycles per output row, 256 channels, min of
 * 3000 calls, the previous code and this alternated: 28x28 took 25.5-27.2 as
 * two strips, 16.5-18.3 here; 28x28 dilation 2 took 21.6-22.5 as two 14-wide
 * convs of the even and odd columns (a shuffle apart per row loaded, a shuffle
 * together per row stored), 18.2-18.7 here.
 * Stride 2 (up to 16 output columns) takes every tap by an index vector, which
 * picks the even or odd columns itself. TSC cycles per channel, as above:
 * 576x14x14 139.6 in strips (two masked loads per column pair and input row,
 * then the even/odd split) -> 115.2 here; 192x28x28 302.9 -> 214.3.
 * Output rows of up to 8 columns (7x7, MobileNet's last layers) fill half a
 * vector, so two channels share one: lanes 8..15 index into the next
 * channel's row (the second input vector), carry its taps and bias, and are
 * stored to its plane (dw_narrow_try). Half the FMAs and shifts per channel:
 * 576x14x14 stride 2 115 -> 75 cycles per channel, 1024x7x7 stride 1 8.2 ->
 * 6.4 per row. */
#define DW_NR1 16 /* rows per pass, one vector per row: 16 accumulators + 9 taps + the row and a tap */
/* Two vectors per row: 2 x 7 accumulators + 9 taps + the row. A plane's rows per
 * residue are split into equal passes of 4..7 rows (gconv_equal_pass_rows). With
 * index vectors (6 registers) passes take at most 5 rows. */
#define DW_NR2 7
#define DW_NR2_IDX 5
#define DW_NR2_MIN 4
/* Stride 2 and two channels per vector: one output vector, passes of 4..8 rows (a 7x7 output is
 * one pass of 7) */
#define DW_NRS2 8
#define DW_BY_INDEX 0 /* D for "shift by the index vectors" */

typedef struct {
    __m512i shift[2][DW_K];    /* vpermt2ps index: lane of [row vector 0, row vector 1] for output vector j, tap kx */
    __mmask16 inside[2][DW_K]; /* its lanes whose source is a row lane (the rest are padding: 0) */
    __mmask16 load[2], store[2];
} dw_narrow;

/* Output vector j's tap column kx from the row (lo, hi): by nw's index vectors, or (stride 1)
 * lanes from 16j + kx*D + B on of [0.., lo, hi, 0..], D and B the dilation and -pad_left as
 * constants. */
DW_INLINE __m512 dw_row_tap(__m512 lo, __m512 hi, const dw_narrow *nw, const int j, const int kx, const int D,
                            const int B) {
    const __m512 zero = _mm512_setzero_ps();
    if (D == DW_BY_INDEX) return _mm512_maskz_permutex2var_ps(nw->inside[j][kx], lo, nw->shift[j][kx], hi);
    const int s = DW_LANES * j + kx * D + B;
    return s == 0             ? lo
           : s == DW_LANES    ? hi
           : s < 0            ? DW_SHIFT(lo, zero, (DW_LANES + s) & 15)
           : s < DW_LANES     ? DW_SHIFT(hi, lo, s & 15)
                              : DW_SHIFT(zero, hi, s & 15);
}

/* R output rows of one pass, NO vectors each, from rows of NI vectors (the second hi_off floats
 * past the first); input rows outside [vlo, vhi) are padding. PAIRED: the second input vector is
 * the next channel's row, and output lanes 8..15 are that channel's row, stored o2_off floats on. */
DW_INLINE void dw_narrow_block(const float *in, int64_t in_w, int64_t row0, int64_t vpitch, int64_t hi_off,
                               const dw_narrow *nw, __mmask16 load0, __mmask16 load1, __mmask16 store0,
                               __mmask16 store1, const __m512 *vt, __m512 vbias, __m512 vmin, __m512 vmax, int clamped,
                               float *o, int64_t os, int64_t o2_off, const int NI, const int NO, const int PAIRED,
                               const int R, const int D, const int B, int64_t nr, const int checked, int64_t vlo,
                               int64_t vhi) {
    __m512 acc[2][DW_NR1];
    for (int j = 0; j < NO; j++)
        for (int i = 0; i < R; i++) acc[j][i] = vbias;
#pragma GCC unroll 24
    for (int v = 0; v < DW_VR(R); v++) {
        if (checked && (v < vlo || v >= vhi)) continue;
        const float *row = in + (row0 + v * vpitch) * in_w;
        __m512 lo = dw_load_masked(load0, row), hi = _mm512_setzero_ps();
        DW_KEEP(lo);
        if (NI == 2) {
            hi = dw_load_masked(load1, row + hi_off);
            DW_KEEP(hi);
        }
#pragma GCC unroll 2
        for (int j = 0; j < NO; j++) {
#pragma GCC unroll 4
            for (int kx = 0; kx < DW_K; kx++) {
                const __m512 x = dw_row_tap(lo, hi, nw, j, kx, D, B);
#pragma GCC unroll 16
                for (int i = 0; i < R; i++) {
                    const int ky = v - DW_S * i;
                    if (ky >= 0 && ky < DW_K) acc[j][i] = _mm512_fmadd_ps(vt[ky * DW_K + kx], x, acc[j][i]);
                }
            }
        }
    }
    if (clamped)
        for (int j = 0; j < NO; j++)
            for (int i = 0; i < R; i++) acc[j][i] = clamp_ps(acc[j][i], vmin, vmax);
    for (int i = 0; i < R; i++) {
        if (checked && i >= nr) break;
        _mm512_mask_storeu_ps(o + i * os, store0, acc[0][i]);
        if (NO == 2) _mm512_mask_storeu_ps(o + i * os + DW_LANES, store1, acc[1][i]);
        if (PAIRED)
            _mm512_mask_storeu_ps(o + o2_off + i * os, store0, DW_SHIFT(_mm512_setzero_ps(), acc[0][i], 8));
    }
}

/* a in every lane, or (PAIRED) a in lanes 0..7 and b in 8..15 */
DW_INLINE __m512 dw_pair_taps(float a, float b, const int PAIRED) {
    return PAIRED ? _mm512_mask_broadcastss_ps(_mm512_set1_ps(a), 0xFF00, _mm_set_ss(b)) : _mm512_set1_ps(a);
}

DW_INLINE void dw_narrow_run(const dw_ctx *c, const dw_narrow *nw, const int NI, const int NO, const int PAIRED,
                             const int R, const int D, const int B) {
    const int64_t in_w = c->in_w, in_h = c->in_h, out_w = c->out_w, step = c->ostep, vpitch = c->vpitch;
    const int64_t os = step * out_w, V = DW_VR(R);
    const __m512 vmin = _mm512_set1_ps(c->cmin), vmax = _mm512_set1_ps(c->cmax);
    const int clamped = c->cmin != -INFINITY || c->cmax != INFINITY;
    /* (by value: read through nw, GCC reloads the masks from memory for every row) */
    const __mmask16 load0 = nw->load[0], load1 = nw->load[1], store0 = nw->store[0], store1 = nw->store[1];
    const gconv_residue_rows residue_rows = gconv_rows_per_residue(c->oy_end - c->oy_begin, step);
    const int64_t hi_off = PAIRED ? c->in_stride : DW_LANES, o2_off = c->out_stride;
    for (size_t ch = 0; ch + PAIRED < c->channels; ch += 1 + PAIRED) {
        const float *in = c->in + (int64_t)ch * c->in_stride;
        float *out = c->out + (int64_t)ch * c->out_stride;
        const float *w = c->w + ch * (DW_K * DW_K + 1), *w2 = w + (PAIRED ? DW_K * DW_K + 1 : 0);
        __m512 vt[DW_K * DW_K];
        for (int t = 0; t < DW_K * DW_K; t++) vt[t] = dw_pair_taps(w[1 + t], w2[1 + t], PAIRED);
        const __m512 vbias = dw_pair_taps(w[0], w2[0], PAIRED);
        for (int64_t res = 0; res < step; res++) {
            const int64_t oy_first = c->oy_begin + res;
            if (oy_first >= c->oy_end) break;
            const int64_t rows = residue_rows.base + (res < residue_rows.extra);
            for (int64_t k = 0; k < rows; k += R) {
                const int64_t oy = oy_first + k * step, nr = rows - k < R ? rows - k : R;
                const int64_t row0 = oy * DW_S - c->pad_top;
                float *o = out + oy * out_w;
                if (nr == R && row0 >= 0 && row0 + (V - 1) * vpitch < in_h) {
                    dw_narrow_block(in, in_w, row0, vpitch, hi_off, nw, load0, load1, store0, store1, vt, vbias, vmin,
                                    vmax, clamped, o, os, o2_off, NI, NO, PAIRED, R, D, B, R, 0, 0, V);
                    continue;
                }
                int64_t vlo, vhi;
                gconv_rows_inside(row0, vpitch, V, in_h, &vlo, &vhi);
                dw_narrow_block(in, in_w, row0, vpitch, hi_off, nw, load0, load1, store0, store1, vt, vbias, vmin, vmax,
                                clamped, o, os, o2_off, NI, NO, PAIRED, R, D, B, nr, 1, vlo, vhi);
            }
        }
    }
}

/* Immediate shifts for "same" padding at dilation 1 (and, in one vector, none at dilation 1) and
 * at dilation 2 (two vectors; one-vector rows at dilation 2 are rare enough for index vectors).
 * vpermt2ps needs an index register per shift and overwrites a source, which next to the
 * accumulators and taps makes GCC spill and copy registers (in this path's even/odd-column
 * form, 342 vmovaps in a 7-row pass, 230 with valignd). */
typedef void (*dw_narrow_fn)(const dw_ctx *, const dw_narrow *);
#define DW_NARROW_FN(NAME, NI, NO, R, D, B) \
    DW_NOINLINE void NAME(const dw_ctx *c, const dw_narrow *nw) { dw_narrow_run(c, nw, NI, NO, 0, R, D, B); }
#define DW_NARROW_PAIRED_FN(NAME, R) \
    DW_NOINLINE void NAME(const dw_ctx *c, const dw_narrow *nw) { dw_narrow_run(c, nw, 2, 1, 1, R, DW_BY_INDEX, 0); }
DW_NARROW_PAIRED_FN(dw_narrow_pair_r4, 4)
DW_NARROW_PAIRED_FN(dw_narrow_pair_r5, 5)
DW_NARROW_PAIRED_FN(dw_narrow_pair_r6, 6)
DW_NARROW_PAIRED_FN(dw_narrow_pair_r7, 7)
DW_NARROW_PAIRED_FN(dw_narrow_pair_r8, 8)
#undef DW_NARROW_PAIRED_FN
#if DW_S == 1
DW_NARROW_FN(dw_narrow_1_d1p1, 1, 1, DW_NR1, 1, -1)
DW_NARROW_FN(dw_narrow_1_d1p0, 1, 1, DW_NR1, 1, 0)
DW_NARROW_FN(dw_narrow_1_idx, 1, 1, DW_NR1, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_2r4_d1p1, 2, 2, 4, 1, -1)
DW_NARROW_FN(dw_narrow_2r5_d1p1, 2, 2, 5, 1, -1)
DW_NARROW_FN(dw_narrow_2r6_d1p1, 2, 2, 6, 1, -1)
DW_NARROW_FN(dw_narrow_2r7_d1p1, 2, 2, 7, 1, -1)
DW_NARROW_FN(dw_narrow_2r4_d2p2, 2, 2, 4, 2, -2)
DW_NARROW_FN(dw_narrow_2r5_d2p2, 2, 2, 5, 2, -2)
DW_NARROW_FN(dw_narrow_2r6_d2p2, 2, 2, 6, 2, -2)
DW_NARROW_FN(dw_narrow_2r7_d2p2, 2, 2, 7, 2, -2)
DW_NARROW_FN(dw_narrow_2r4_idx, 2, 2, 4, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_2r5_idx, 2, 2, 5, DW_BY_INDEX, 0)
#else
/* (both input vectors always: below 17 columns the second load's mask is empty) */
DW_NARROW_FN(dw_narrow_s2r4, 2, 1, 4, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_s2r5, 2, 1, 5, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_s2r6, 2, 1, 6, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_s2r7, 2, 1, 7, DW_BY_INDEX, 0)
DW_NARROW_FN(dw_narrow_s2r8, 2, 1, 8, DW_BY_INDEX, 0)
#endif
#undef DW_NARROW_FN

/* fns[r - DW_NR2_MIN] takes passes of r rows: the longest residue in equal passes of at most
 * `most` rows. */
static void dw_narrow_equal_passes(const dw_ctx *c, const dw_narrow *nw, const dw_narrow_fn *fns, int64_t most) {
    const int64_t r = gconv_equal_pass_rows((c->oy_end - c->oy_begin + c->ostep - 1) / c->ostep, most);
    fns[r < DW_NR2_MIN ? 0 : r - DW_NR2_MIN](c, nw);
}

/* Index vectors for rows of ni input vectors; paired: output lanes 8..15 read the second vector
 * as a row of their own (the next channel's). */
static void dw_narrow_index(dw_narrow *nw, const dw_ctx *c, int64_t pad_left, int ni, int paired) {
    const int64_t d = c->dil_w, in_w = c->in_w, out_w = c->out_w;
    for (int j = 0; j < 2; j++) {
        nw->load[j] = (__mmask16)bit_range(0, paired ? in_w : in_w - DW_LANES * j);
        nw->store[j] = (__mmask16)bit_range(0, out_w - DW_LANES * j);
        for (int kx = 0; kx < DW_K; kx++) {
            int32_t lane[DW_LANES];
            uint32_t inside = 0;
            for (int m = 0; m < DW_LANES; m++) {
                const int half = paired && m >= DW_LANES / 2;
                const int64_t col = DW_S * (DW_LANES * j + m - half * DW_LANES / 2) + kx * d - pad_left;
                const int in_row = col >= 0 && col < (paired ? DW_LANES : DW_LANES * ni);
                lane[m] = in_row ? (int32_t)(col + half * DW_LANES) : 0;
                inside |= (uint32_t)in_row << m;
            }
            nw->shift[j][kx] = _mm512_loadu_si512(lane);
            nw->inside[j][kx] = (__mmask16)inside;
        }
    }
}

/* The plane's channels one by one, rows of up to two input vectors. */
static void dw_narrow_single(const dw_ctx *c, int64_t pad_left) {
    const int64_t d = c->dil_w, in_w = c->in_w, out_w = c->out_w;
    const int ni = DW_S == 1 && in_w <= DW_LANES && out_w <= DW_LANES ? 1 : 2; /* input vectors per row */
    dw_narrow nw;
    dw_narrow_index(&nw, c, pad_left, ni, 0);
#if DW_S == 1
    if (ni == 1) {
        const dw_narrow_fn one = d == 1 && pad_left == 1   ? dw_narrow_1_d1p1
                                 : d == 1 && pad_left == 0 ? dw_narrow_1_d1p0
                                                           : dw_narrow_1_idx;
        one(c, &nw);
        return;
    }
    static const dw_narrow_fn d1p1[4] = {dw_narrow_2r4_d1p1, dw_narrow_2r5_d1p1, dw_narrow_2r6_d1p1,
                                         dw_narrow_2r7_d1p1};
    static const dw_narrow_fn d2p2[4] = {dw_narrow_2r4_d2p2, dw_narrow_2r5_d2p2, dw_narrow_2r6_d2p2,
                                         dw_narrow_2r7_d2p2};
    static const dw_narrow_fn by_index[2] = {dw_narrow_2r4_idx, dw_narrow_2r5_idx};
    const dw_narrow_fn *fns = d == 1 && pad_left == 1 ? d1p1 : d == 2 && pad_left == 2 ? d2p2 : by_index;
    dw_narrow_equal_passes(c, &nw, fns, fns == by_index ? DW_NR2_IDX : DW_NR2);
#else
    (void)d;
    static const dw_narrow_fn fns[5] = {dw_narrow_s2r4, dw_narrow_s2r5, dw_narrow_s2r6, dw_narrow_s2r7,
                                        dw_narrow_s2r8};
    dw_narrow_equal_passes(c, &nw, fns, DW_NRS2);
#endif
}

/* Takes the plane if its input rows fit two vectors and its output rows two (stride 2: one);
 * returns 0 otherwise. Output rows of at most 8 columns from input rows of at most 16 take two
 * channels per vector, a channel in each half. */
static int dw_narrow_try(const dw_ctx *c, int64_t pad_left) {
    const int64_t in_w = c->in_w, out_w = c->out_w;
    if (in_w > 2 * DW_LANES || out_w > (3 - DW_S) * DW_LANES) return 0;
    size_t paired = 0;
    if (in_w <= DW_LANES && out_w <= DW_LANES / 2 && c->channels >= 2) {
        dw_narrow nw;
        dw_narrow_index(&nw, c, pad_left, 2, 1);
        static const dw_narrow_fn fns[5] = {dw_narrow_pair_r4, dw_narrow_pair_r5, dw_narrow_pair_r6,
                                            dw_narrow_pair_r7, dw_narrow_pair_r8};
        dw_narrow_equal_passes(c, &nw, fns, DW_NRS2);
        paired = c->channels / 2 * 2;
    }
    if (paired < c->channels) {
        dw_ctx rest = *c;
        rest.in += (int64_t)paired * c->in_stride;
        rest.out += (int64_t)paired * c->out_stride;
        rest.w += paired * (DW_K * DW_K + 1);
        rest.channels = c->channels - paired;
        dw_narrow_single(&rest, pad_left);
    }
    return 1;
}
#endif

void DW_FN_MC(const gconv_dw_geom *g, size_t channels, const float *in, size_t in_stride, const float *w,
              float *out, int64_t oy_begin, int64_t oy_end, const gconv_minmax *clamp) {
    const int64_t out_plane = g->out_h * g->out_w;
    if (g->kernel_h != DW_K || g->kernel_w != DW_K || g->stride_h != DW_S || g->stride_w != DW_S ||
        (DW_S != 1 && (g->dilation_h != 1 || g->dilation_w != 1))) {
        for (size_t ch = 0; ch < channels; ch++)
            gconv_f32_dwconv_generic__avx512(g, in + ch * in_stride, w + ch * (size_t)(g->kernel_h * g->kernel_w + 1),
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
#if DW_K == 3
    if (dw_narrow_try(&c, pad_left)) return;
#endif
    /* Interior strips: first column read >= 0, last <= in_w - 1, 16 outputs. */
#if DW_S == 1
    const int64_t ox_first = pad_left;
    int64_t ox_last = in_w - DW_LANES + pad_left - (DW_K - 1) * c.dil_w;
#else
    /* reads columns col0 .. col0 + 29 + K (see dw_block), col0 = 2 * ox0 - pad_left */
    const int64_t ox_first = (pad_left + 1) / 2;
    int64_t ox_last = in_w - 30 - DW_K + pad_left;
    ox_last = ox_last >= 0 ? ox_last / 2 : -1;
#endif
    if (ox_last > out_w - DW_LANES) ox_last = out_w - DW_LANES;
    /* Narrow planes whose data stays in L2 (2 MB here): all channels in one dw_strips call. The
     * others channel by channel, each call fetching the next channel's plane into cache while it
     * runs (dw_plane_prefetch). 1 thread, A/B in one binary, channel by channel over all channels:
     * 3x3s2 on 96x56x56 (1.5 MB in and out) 1.15-1.44, 128x40x40 1.22; 5x5s2 on 72x56x56 1.15; 5x5s1
     * on 240x28x28 1.05; 7x7s1 on 192x28x28 1.03; where the data passes 2 MB, 1.00 (3x3s2 on
     * 144x56x56, 5x5s1 on 480x28x28). */
    const int64_t call_bytes =
        (int64_t)sizeof(float) * ((int64_t)channels * out_plane + (in_stride ? (int64_t)channels : 1) * g->in_h * in_w);
    const size_t per_call = out_w <= 2 * DW_LANES && call_bytes <= DW_STRIPS_MAX_BYTES ? channels : 1;
    /* Output rows that are whole cache lines apart (out_w a multiple of 16) all
     * start at the same offset in a line: a first strip of `head` columns then
     * puts every later strip's stores on line boundaries, where each would
     * otherwise split two lines. With a plane misaligned by 16 or 32 bytes
     * (NumPy's usual is 16), 3x3s1 on 32x112x112, 8x112x112 and 16x128x128
     * took 1.26-1.43 times as long without the head strip (one binary, passes
     * across the row). The extra strip costs more than it saves where a
     * plane's output fits L1 (5x5 on 48x64x64, strips down the plane: 19.7 to
     * 21.5 TSC cycles per output vector), hence a minimum plane size. */
    const int64_t lead = (int64_t)(((uintptr_t)out / sizeof(float)) % DW_LANES);
    const int64_t head =
        per_call == 1 && out_plane >= DW_ALIGN_MIN_PLANE && out_w % DW_LANES == 0 && (uintptr_t)out % sizeof(float) == 0 && lead ? DW_LANES - lead
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
            const int fetch_in = in_stride && g->in_h * in_w < DW_PF_IN_MAX_PLANE;
            dw_plane_prefetch_rows(&cc.pf, fetch_in ? in + (ch + 1) * in_stride : NULL, g->in_h, in_w,
                                   out + (int64_t)(ch + 1) * out_plane, out_w, oy_begin, oy_end, DW_S, g->pad_top,
                                   (DW_K - 1) * c.vpitch + 1, out_plane < DW_PF_TWO_STREAMS_MAX_PLANE ? 2 : 1, passes);
        }
        /* New outputs [start, end): [0, head), then 16 at a time. A strip computes n outputs from
         * ox0 and stores its new ones; the last one (DW_WHOLE_TAIL) computes 16 that overlap its
         * neighbour's. The strips of a row go to dw_strips together (up to DW_ROW_STRIPS_MAX). */
        for (int64_t start = 0; start < out_w;) {
            int64_t group = 0;
            for (; group < DW_ROW_STRIPS_MAX && start < out_w; group++) {
                const int64_t stop = start == 0 ? head : start + DW_LANES, end = stop < out_w ? stop : out_w;
                const int64_t ox0 =
                    DW_WHOLE_TAIL && out_w >= DW_LANES && start > out_w - DW_LANES ? out_w - DW_LANES : start;
                const int64_t n = ox0 < start ? DW_LANES : end - start;
                dw_strip_plan(&strips[group], &cc, ox0, DW_S * ox0 - pad_left, n,
                              (__mmask16)bit_range(start - ox0, end - ox0),
                              n == DW_LANES && ox0 >= ox_first && ox0 <= ox_last);
                start = end;
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
