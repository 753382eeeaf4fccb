/* Parallel loops over work items, and the team that lets a whole planned forward share one OpenMP
 * parallel region.
 *
 * Every multi-threaded loop in the C core is a gconv_parallel_for: `items` independent work items,
 * cut into contiguous shares (thread t of n owns [t*items/n, (t+1)*items/n), the same share on every
 * call, so its part of the data stays in its own cache), each run in a few chunks by calls of a
 * gconv_share_fn. A thread done with its share takes what is left of a late one's (team.c).
 *
 * Why not one `#pragma omp parallel` per loop: a region whose threads have gone to sleep wakes them,
 * and on this project's VMs waking a halted vCPU costs 30-70 us; a 50-step network paid that at
 * every step (with OMP_WAIT_POLICY=passive, the old default), more than the 2nd thread saved.
 * gconv_program_run therefore opens one region per forward (gconv_team_run): its thread 0 runs the
 * steps, and every gconv_parallel_for that the steps reach hands the other
 * shares to the team members, who wait between loops by spinning briefly and then yielding the core
 * (so a busy machine gets it back), never sleeping. Outside a team a gconv_parallel_for opens its own
 * region, as before.
 */
#ifndef GCONV_TEAM_H
#define GCONV_TEAM_H

#include <stddef.h>
#include <stdint.h>

/* Runs work items [begin, end) as team member `tid` (0 <= tid < the loop's thread count; scratch
 * slices are indexed by it). */
typedef void (*gconv_share_fn)(const void *ctx, int64_t begin, int64_t end, int tid);

/* Runs fn over `items` on up to `threads` threads (1: in the caller, no region), in the caller's
 * floating-point mode. Returns when every share is done. */
void gconv_parallel_for(int threads, int64_t items, gconv_share_fn fn, const void *ctx);

/* Runs body(ctx) on the calling thread with a team of `threads` waiting for its parallel loops, all
 * inside one OpenMP region; returns body's result. threads <= 1 or no OpenMP: just body(ctx). */
int gconv_team_run(int threads, int (*body)(void *ctx), void *ctx);

/* Share t of n of `items`: [items*t/n, items*(t+1)/n). */
static inline void gconv_share_bounds(int64_t items, int t, int n, int64_t *begin, int64_t *end) {
    *begin = items * t / n;
    *end = items * (t + 1) / n;
}

/* Member tid's slice of a per-call workspace cut into `bytes` per thread. */
static inline float *gconv_scratch_slice(void *workspace, size_t bytes, int tid) {
    return (float *)((char *)workspace + (size_t)tid * bytes);
}

#endif /* GCONV_TEAM_H */
