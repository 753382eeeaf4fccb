/* f32-gemm-8x48-avx512: 8 output channels x up to 48 pixels per call, 24 zmm accumulators
 * (+3 for b, +1 broadcast), and one more pixel past whole vectors (nr_edge = 1). Same packed panels
 * as f32-gemm-8x32 (MR = 8); each k step does 24 FMAs for 3 loads of b and 8 broadcasts (16 for 10
 * in the 8x32 tile). Partial vectors use masked loads/stores: nothing past nc columns is touched.
 *
 * f32-gemm-8x48-avx512-prfm: the same tile, which also prefetches the next call's columns of b
 * (the nc columns after its own, every row) into L2, one row per k step. For a 1x1 conv whose
 * input is larger than L2, the planner runs it on the first panel of each pixel tile, the pass
 * that brings the tile from L3 (see gemm_streams_input in conv_plan.c). */
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "../common/internal.h"
#include "../common/simd_avx512.h"

#define MR 8
/* Rows of b prefetched ahead: b's rows are a whole input plane apart (12 KB at 56x56), too far
 * for the hardware prefetchers to follow; 4-8 rows ahead measured 5-8% faster at 56x56 and
 * 28x28 (K = 128, 256), no change where b fits L1. Prefetches never fault, so the rows past kc
 * need no guard. */
#define PREFETCH_ROWS 6
/* Weights prefetched ahead, in floats (192 k steps, 6 KB; past a panel's end this is the next
 * panel): in a network a 7x7 layer's panels (4 MB at 1024 -> 1024) come from DRAM, a 32-byte row
 * per k step, each read once. 6 KB ahead took MobileNet V1/V2 (1 thread) to 0.88 of their time
 * without it; 2 KB gave 0.91, 16 KB lost again on V2. */
#define PREFETCH_WEIGHTS (192 * MR)

/* NV (1..3) vectors of columns; MASKED: the last one under `tail` (else all are whole); EDGE: one
 * more column past them, as a ymm over the panel's 8 rows (a 7x7 pointwise's 49th pixel: 1 FMA
 * per k here instead of a second pass over the weights in the few-pixel kernel, which cost 13% of
 * pw1x1_960to320_7). Every column is bias + the FMAs over k in order, in any of the forms, so a
 * pixel gets the same bits whichever one computes it. Written with one accumulator array per
 * vector and unrolled loops, the form GCC keeps in registers (24 + 3 + 1, and 3 for the edge). */
static inline __attribute__((always_inline)) void gemm_nv(const int NEXT, const int NV, const int MASKED, const int EDGE, size_t mr,
                                                          size_t kc, const float *w, const float *b, size_t b_stride,
                                                          float *c, size_t c_stride, const gconv_minmax *clamp,
                                                          __mmask16 tail) {
    __m512 acc0[MR], acc1[MR], acc2[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = acc2[i] = _mm512_set1_ps(w[i]);
    __m256 edge = _mm256_loadu_ps(w);
    const float *wk = w + MR;
    /* Unmasked loads where the vectors are whole: a masked load measured 6% slower per k step. */
    const __mmask16 m0 = MASKED && NV == 1 ? tail : 0xFFFF, m1 = MASKED && NV == 2 ? tail : 0xFFFF,
                    m2 = MASKED ? tail : 0xFFFF;
    for (size_t k = 0; k < kc; k++, wk += MR, b += b_stride) {
        const float *ahead = b + PREFETCH_ROWS * b_stride;
        _mm_prefetch((const char *)(wk + PREFETCH_WEIGHTS), _MM_HINT_T0);
        _mm_prefetch((const char *)ahead, _MM_HINT_T0);
        if (NV > 1) _mm_prefetch((const char *)(ahead + 16), _MM_HINT_T0);
        if (NV > 2) _mm_prefetch((const char *)(ahead + 32), _MM_HINT_T0);
        if (NEXT) {
            /* T1: into L2 only; L1 could not hold this call's rows and the next call's together */
            const float *next = b + 16 * NV;
            _mm_prefetch((const char *)next, _MM_HINT_T1);
            if (NV > 1) _mm_prefetch((const char *)(next + 16), _MM_HINT_T1);
            if (NV > 2) _mm_prefetch((const char *)(next + 32), _MM_HINT_T1);
        }
        const __m512 b0 = MASKED && NV == 1 ? _mm512_maskz_loadu_ps(m0, b) : _mm512_loadu_ps(b);
        const __m512 b1 = NV < 2 ? b0 : MASKED && NV == 2 ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_loadu_ps(b + 16);
        const __m512 b2 = NV < 3 ? b0 : MASKED ? _mm512_maskz_loadu_ps(m2, b + 32) : _mm512_loadu_ps(b + 32);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512 a = _mm512_set1_ps(wk[i]);
            acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);
            if (NV > 1) acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);
            if (NV > 2) acc2[i] = _mm512_fmadd_ps(a, b2, acc2[i]);
        }
        if (EDGE) edge = _mm256_fmadd_ps(_mm256_loadu_ps(wk), _mm256_set1_ps(b[16 * NV]), edge);
    }
    const __m512 lo = _mm512_set1_ps(clamp->min), hi = _mm512_set1_ps(clamp->max);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= mr) break;
        _mm512_mask_storeu_ps(c + i * c_stride, m0, clamp_ps(acc0[i], lo, hi));
        if (NV > 1) _mm512_mask_storeu_ps(c + i * c_stride + 16, m1, clamp_ps(acc1[i], lo, hi));
        if (NV > 2) _mm512_mask_storeu_ps(c + i * c_stride + 32, m2, clamp_ps(acc2[i], lo, hi));
    }
    if (EDGE) {
        float rows[MR];
        _mm256_storeu_ps(rows, _mm256_min_ps(_mm512_castps512_ps256(hi), _mm256_max_ps(_mm512_castps512_ps256(lo), edge)));
        for (size_t i = 0; i < mr; i++) c[i * c_stride + 16 * NV] = rows[i];
    }
}

/* nc <= 49: whole vectors, whole vectors and a last partial one, or whole vectors and one column
 * (nc = 16 * NV + 1, the table's nr_edge: the planner hands the kernel a 7x7's 49 pixels at once).
 * NEXT (the -prfm tile) prefetches in the whole-vector forms only, the calls a tile's run of columns
 * is made of; the partial and edge forms are its short head block or its end. */
static inline __attribute__((always_inline)) void gemm_8x48(const int NEXT, size_t mr, size_t nc, size_t kc,
                                                            const float *w, const float *b, size_t b_stride, float *c,
                                                            size_t c_stride, const gconv_minmax *clamp) {
    const __mmask16 tail = lane_mask(nc - (nc - 1) / 16 * 16);
    const size_t whole = nc / 16;
    if (nc % 16 == 1 && whole > 0) {
        if (whole == 3) gemm_nv(0, 3, 0, 1, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
        else if (whole == 2) gemm_nv(0, 2, 0, 1, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
        else gemm_nv(0, 1, 0, 1, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
    } else if (nc % 16 == 0) {
        if (whole == 3) gemm_nv(NEXT, 3, 0, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
        else if (whole == 2) gemm_nv(NEXT, 2, 0, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
        else gemm_nv(NEXT, 1, 0, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
    } else if (nc > 32) {
        gemm_nv(0, 3, 1, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
    } else if (nc > 16) {
        gemm_nv(0, 2, 1, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
    } else {
        gemm_nv(0, 1, 1, 0, mr, kc, w, b, b_stride, c, c_stride, clamp, tail);
    }
}

void gconv_f32_gemm_8x48__avx512(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                 size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp) {
    gemm_8x48(0, mr, nc, kc, w, b, b_stride, c, c_stride, clamp);
}

void gconv_f32_gemm_8x48__avx512_prfm(size_t mr, size_t nc, size_t kc, const float *w, const float *b,
                                      size_t b_stride, float *c, size_t c_stride, const gconv_minmax *clamp) {
    gemm_8x48(1, mr, nc, kc, w, b, b_stride, c, c_stride, clamp);
}
