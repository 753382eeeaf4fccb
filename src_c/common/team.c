/* gconv_parallel_for and the forward-long team (team.h). */
#include "team.h"

#include "internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* A waiting member spins this many pause instructions (~40 ns each on the Xeon: ~40 us, longer than
 * the gap between two loops of a forward) before it yields the core at every check instead: on an
 * idle machine sched_yield returns at once and the member keeps its core awake; on a busy one the
 * other process runs. libgomp's own spin, which never yields, turned 2-thread forwards 10-100x
 * slower than 1-thread ones under load (see gconv_cpu/_openmp_env.py). */
#define SPIN_PAUSES 1000

typedef struct {
    /* The leader bumps `job` to publish a loop (or the end, with fn NULL); members wait for it to
     * change, so it gets a cache line of its own, as does the counter the leader waits on. */
    _Alignas(64) _Atomic uint64_t job;
    _Alignas(64) _Atomic int unfinished; /* members (all but the leader) not yet done with `job` */
    _Alignas(64) gconv_share_fn fn;
    const void *ctx;
    int64_t items;
    int threads; /* members 0..threads-1 take a share, the rest only acknowledge */
    int size;
} team;

/* The team whose leader is this thread, while gconv_team_run's body runs. */
static _Thread_local team *leading;

static inline void backoff(unsigned *spins) {
    if (*spins < SPIN_PAUSES) {
        cpu_relax();
        ++*spins;
    } else {
        sched_yield();
    }
}

static void run_share(gconv_share_fn fn, const void *ctx, int64_t items, int tid, int threads) {
    int64_t begin, end;
    gconv_share_bounds(items, tid, threads, &begin, &end);
    if (begin < end) fn(ctx, begin, end, tid);
}

static void team_loop(team *t, int tid) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t job;
        unsigned spins = 0;
        while ((job = atomic_load_explicit(&t->job, memory_order_acquire)) == seen) backoff(&spins);
        seen = job;
        if (!t->fn) return;
        if (tid < t->threads) run_share(t->fn, t->ctx, t->items, tid, t->threads);
        atomic_fetch_sub_explicit(&t->unfinished, 1, memory_order_release);
    }
}

static void team_dispatch(team *t, int threads, int64_t items, gconv_share_fn fn, const void *ctx) {
    t->fn = fn;
    t->ctx = ctx;
    t->items = items;
    t->threads = threads < t->size ? threads : t->size;
    atomic_store_explicit(&t->unfinished, t->size - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->job, 1, memory_order_release);
    run_share(fn, ctx, items, 0, t->threads);
    unsigned spins = 0;
    while (atomic_load_explicit(&t->unfinished, memory_order_acquire) > 0) backoff(&spins);
}

void gconv_parallel_for(int threads, int64_t items, gconv_share_fn fn, const void *ctx) {
    if (items <= 0) return;
    if ((int64_t)threads > items) threads = (int)items;
    if (threads <= 1) {
        fn(ctx, 0, items, 0);
        return;
    }
    if (leading && leading->size > 1) {
        team_dispatch(leading, threads, items, fn, ctx);
        return;
    }
#ifdef _OPENMP
    const gconv_fpenv team_fp = gconv_fpenv_current();
#pragma omp parallel num_threads(threads)
    {
        GCONV_FPENV_ADOPT(team_fp);
        run_share(fn, ctx, items, omp_get_thread_num(), omp_get_num_threads());
    }
#else
    fn(ctx, 0, items, 0);
#endif
}

int gconv_team_run(int threads, int (*body)(void *ctx), void *ctx) {
    if (threads <= 1 || leading) return body(ctx);
#ifdef _OPENMP
    team t = {.fn = NULL};
    atomic_init(&t.job, 0);
    atomic_init(&t.unfinished, 0);
    int result = 0;
    const gconv_fpenv team_fp = gconv_fpenv_current();
#pragma omp parallel num_threads(threads)
    {
        GCONV_FPENV_ADOPT(team_fp);
        if (omp_get_thread_num() == 0) {
            t.size = omp_get_num_threads(); /* fewer than asked inside a user's parallel region */
            leading = &t;
            result = body(ctx);
            leading = NULL;
            t.fn = NULL;
            atomic_fetch_add_explicit(&t.job, 1, memory_order_release);
        } else {
            team_loop(&t, omp_get_thread_num());
        }
    }
    return result;
#else
    return body(ctx);
#endif
}
