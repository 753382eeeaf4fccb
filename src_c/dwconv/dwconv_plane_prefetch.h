/* The next channel's plane, fetched into cache a few lines per pass while the depthwise KxK
 * bodies (dwconv_kxk_avx2.h, dwconv_kxk_avx512.h) sweep the current one. Hardware prefetchers
 * restart at every 4 KiB page, and they do not fetch the output ahead of the stores.
 *
 * The input and output lines are fetched as `streams` runs at once: each is cut into that many
 * equal segments, and every pass takes the next lines of every segment. The L2 streamer follows
 * each run on its own, so two runs keep more lines in flight from L3 than one. AVX-512, 1 thread,
 * A/B in one process with 8 MB read between calls: 3x3s2 on 96x112x112 took 0.94-0.96 of its
 * time with two runs, 64x112x112 0.92, 3x3s1 on 144x56x56 0.95-0.97; 5x5s1 on 72x56x56 took 1.04
 * and 3x3s1 on 32x112x112 1.01-1.03, and those keep one (DW_PF_TWO_STREAMS_MAX_PLANE). Fetching
 * the lines faster than one plane per plane lost (a plane in 2/3 of the passes: 1.11), as did
 * fetching the next strip's lines instead of the next plane's (1.17).
 *
 * The includer defines DW_PF_OUT_HINT, the hint for the output lines: _MM_HINT_ET0 (prefetchw)
 * where the build targets it, so that a store does not have to ask for ownership again. */
#ifndef GCONV_DWCONV_PLANE_PREFETCH_H
#define GCONV_DWCONV_PLANE_PREFETCH_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

#define DW_PF_MAX_STREAMS 2

typedef struct {
    const char *in[DW_PF_MAX_STREAMS], *out[DW_PF_MAX_STREAMS]; /* run s starts here (NULL: empty) */
    int64_t in_lines[DW_PF_MAX_STREAMS], out_lines[DW_PF_MAX_STREAMS];
    int64_t streams, done, per_pass; /* per_pass 0: nothing to fetch */
} dw_plane_prefetch;

static inline void dw_plane_prefetch_none(dw_plane_prefetch *p) {
    for (int s = 0; s < DW_PF_MAX_STREAMS; s++) {
        p->in[s] = p->out[s] = NULL;
        p->in_lines[s] = p->out_lines[s] = 0;
    }
    p->streams = 1;
    p->done = p->per_pass = 0;
}

/* in_lines and out_lines 64-byte lines from in and out, in `streams` (1 or 2) runs, all fetched
 * once `passes` calls of dw_plane_prefetch_step have been made. */
static inline void dw_plane_prefetch_init(dw_plane_prefetch *p, const char *in, int64_t in_lines, const char *out,
                                          int64_t out_lines, int64_t streams, int64_t passes) {
    dw_plane_prefetch_none(p);
    p->streams = streams;
    const int64_t seg_in = (in_lines + streams - 1) / streams, seg_out = (out_lines + streams - 1) / streams;
    for (int64_t s = 0; s < streams; s++) {
        const int64_t left_in = in_lines - s * seg_in, left_out = out_lines - s * seg_out;
        p->in_lines[s] = gconv_clamp_i64(left_in, 0, seg_in);
        p->out_lines[s] = gconv_clamp_i64(left_out, 0, seg_out);
        p->in[s] = p->in_lines[s] ? in + s * seg_in * 64 : NULL;
        p->out[s] = p->out_lines[s] ? out + s * seg_out * 64 : NULL;
    }
    const int64_t lines = seg_in > seg_out ? seg_in : seg_out;
    p->per_pass = lines / passes + 1;
}

/* Of the next channel's planes (next_in NULL: no input plane to fetch, as where it is shared), the
 * lines that a call for output rows [oy_begin, oy_end) reads and writes: input rows oy * stride -
 * pad_top + [0, extent) and those output rows. Whole planes for a share of the rows made
 * mobilenet_v2 on 2 threads, with each depthwise step split by rows, 1.147x slower (AVX-512), these
 * rows 1.018x (an experiment: the driver gives a call whole planes, where both are the same). */
static inline void dw_plane_prefetch_rows(dw_plane_prefetch *p, const float *next_in, int64_t in_h, int64_t in_w,
                                          float *next_out, int64_t out_w, int64_t oy_begin, int64_t oy_end,
                                          int64_t stride, int64_t pad_top, int64_t extent, int64_t streams,
                                          int64_t passes) {
    int64_t r0, r1;
    gconv_rows_read(oy_begin, oy_end, stride, pad_top, extent, in_h, &r0, &r1);
    const int64_t in_lines = next_in && r1 > r0 ? ((r1 - r0) * in_w * 4 + 63) / 64 : 0;
    const int64_t out_lines = ((oy_end - oy_begin) * out_w * 4 + 63) / 64;
    dw_plane_prefetch_init(p, next_in ? (const char *)(next_in + r0 * in_w) : NULL, in_lines,
                           (const char *)(next_out + oy_begin * out_w), out_lines, streams, passes);
}

/* (n: the streams as a constant. One run then costs no more integer work than before there
 * were two; that work competes with the FMAs for ports: with the count read at run time,
 * 3x3s1 on 32x112x112, one run, took 1.03 of its time.) */
static inline __attribute__((always_inline)) void dw_plane_prefetch_runs(dw_plane_prefetch *p, const int n) {
    const int64_t i0 = p->done, i1 = i0 + p->per_pass;
    for (int64_t i = i0; i < i1; i++) {
        for (int s = 0; s < n; s++) {
            if (i < p->in_lines[s]) _mm_prefetch(p->in[s] + i * 64, _MM_HINT_T0);
            if (i < p->out_lines[s]) _mm_prefetch(p->out[s] + i * 64, DW_PF_OUT_HINT);
        }
    }
    p->done = i1;
}

/* Once per pass. */
static inline void dw_plane_prefetch_step(dw_plane_prefetch *p) {
    if (p->streams == 2)
        dw_plane_prefetch_runs(p, 2);
    else
        dw_plane_prefetch_runs(p, 1);
}

#endif
