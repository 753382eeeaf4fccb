/* Helpers shared by the non-convolution operators (src_c/ops). */
#ifndef GCONV_OPS_INTERNAL_H
#define GCONV_OPS_INTERNAL_H

#include "../common/internal.h"
#include "gconv_ops.h"

#include <math.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many floats of work a parallel region costs more than it saves
 * (waking a team is ~1-5 us; a core streams ~4 floats/ns). Element-wise work
 * with a transcendental per float passes a weight so it goes parallel sooner. */
#define GCONV_OPS_PARALLEL_FLOATS ((int64_t)1 << 15)

/* Unit of work of the chunked element-wise loops: big enough to amortize the
 * per-chunk bookkeeping, small enough to balance two threads on a 56x56 map. */
#define GCONV_OPS_CHUNK ((int64_t)1 << 13)

/* Validates one shape (non-NULL, each dim >= 0, n*c*h*w*4 bytes fits a size_t
 * with room to spare) and returns its element count. `name` is the parameter
 * named in the error message. */
gconv_status gconv_ops_check_shape(const gconv_tensor_shape *s, const char *name, int64_t *numel);

/* Threads worth using for `items` independent work items totalling
 * `work_floats` floats (weighted by cost): 1 when the work is small. */
static inline int gconv_ops_threads(int num_threads, int64_t items, int64_t work_floats) {
    if (num_threads <= 1 || items <= 1 || work_floats < GCONV_OPS_PARALLEL_FLOATS) return 1;
    return items < num_threads ? (int)items : num_threads;
}

static inline int64_t gconv_ops_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t gconv_ops_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

/* max that propagates NaN from either side, as torch's max pooling and
 * torch.maximum do (a NaN already in `acc` stays; a NaN in `v` replaces it). */
static inline float gconv_ops_max_nan(float acc, float v) { return (v > acc || v != v) ? v : acc; }

#endif
