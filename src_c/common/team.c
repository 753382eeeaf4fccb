/* gconv_parallel_for and the forward-long team (team.h). */
#define _GNU_SOURCE /* sched_getcpu, sched_{get,set}affinity */
#include "team.h"

#include "internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* A waiting member spins this many pause instructions (~11 ns each on the Xeon: ~11 us, longer than
 * the gap between two loops of a forward) before it yields the core at every check instead: on an
 * idle machine sched_yield returns at once and the member keeps its core awake; on a busy one the
 * other process runs. libgomp's own spin, which never yields, turned 2-thread forwards 10-100x
 * slower than 1-thread ones under load (see gconv_cpu/_openmp_env.py). */
#define SPIN_PAUSES 1000

/* Shares are claimed, not assigned: member t's share [t*items/n, (t+1)*items/n) is run front to back
 * in a few chunks taken through its own atomic cursor, and a member done with its share takes the
 * chunks left in the others'. When every member runs, each runs its own share, as with static
 * shares; when one is descheduled (another process wanted its core), the others finish its share
 * instead of waiting a time slice for it. Items are independent, so who runs one does not change
 * the result. */
#define CLAIM_MAX_THREADS 64
#define CLAIMS_PER_SHARE 4

typedef struct {
    _Alignas(64) _Atomic int64_t next;
    int64_t end, grain;
} share_cursor;

static void cursors_init(share_cursor *c, int64_t items, int n) {
    for (int t = 0; t < n; t++) {
        int64_t begin, end;
        gconv_share_bounds(items, t, n, &begin, &end);
        atomic_init(&c[t].next, begin);
        c[t].end = end;
        c[t].grain = (end - begin + CLAIMS_PER_SHARE - 1) / CLAIMS_PER_SHARE;
        if (c[t].grain < 1) c[t].grain = 1;
    }
}

/* Member tid's own share first, then what is left of the others'. */
static void claim_and_run(share_cursor *c, int n, gconv_share_fn fn, const void *ctx, int tid) {
    for (int k = 0; k < n; k++) {
        share_cursor *s = &c[(tid + k) % n];
        for (;;) {
            const int64_t begin = atomic_fetch_add_explicit(&s->next, s->grain, memory_order_relaxed);
            if (begin >= s->end) break;
            fn(ctx, begin, begin + s->grain < s->end ? begin + s->grain : s->end, tid);
        }
    }
}

/* The team's job word: the job number above JOB_SHIFT, then a closed bit, then how many members are
 * inside the job. A member joins only an open job, so the leader, once every chunk is claimed,
 * closes the job and waits only for the members that joined; one still descheduled from before
 * skips the job when it runs. */
#define JOB_SHIFT 16
#define JOB_CLOSED ((uint64_t)1 << 15)
#define JOB_ACTIVE (JOB_CLOSED - 1)

typedef struct {
    _Alignas(64) _Atomic uint64_t job;
    _Atomic int quit;
    /* the open job, written by the leader before it bumps the job number */
    _Alignas(64) gconv_share_fn fn;
    const void *ctx;
    int threads; /* members 0..threads-1 may join: the others have no scratch slice */
    int size;
    share_cursor cursors[CLAIM_MAX_THREADS];
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

static int join(team *t, uint64_t number) {
    uint64_t w = atomic_load_explicit(&t->job, memory_order_relaxed);
    do {
        if (w >> JOB_SHIFT != number || (w & JOB_CLOSED)) return 0;
    } while (!atomic_compare_exchange_weak_explicit(&t->job, &w, w + 1, memory_order_acquire, memory_order_relaxed));
    return 1;
}

static void team_loop(team *t, int tid) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t number;
        unsigned spins = 0;
        while ((number = atomic_load_explicit(&t->job, memory_order_acquire) >> JOB_SHIFT) == seen) {
            if (atomic_load_explicit(&t->quit, memory_order_acquire)) return;
            backoff(&spins);
        }
        seen = number;
        if (!join(t, number)) continue;
        if (tid < t->threads) claim_and_run(t->cursors, t->threads, t->fn, t->ctx, tid);
        atomic_fetch_sub_explicit(&t->job, 1, memory_order_release);
    }
}

static void team_dispatch(team *t, int threads, int64_t items, gconv_share_fn fn, const void *ctx) {
    const uint64_t number = (atomic_load_explicit(&t->job, memory_order_relaxed) >> JOB_SHIFT) + 1;
    t->fn = fn;
    t->ctx = ctx;
    t->threads = threads < t->size ? threads : t->size;
    cursors_init(t->cursors, items, t->threads);
    atomic_store_explicit(&t->job, number << JOB_SHIFT, memory_order_release);
    claim_and_run(t->cursors, t->threads, fn, ctx, 0);
    atomic_fetch_or_explicit(&t->job, JOB_CLOSED, memory_order_relaxed);
    unsigned spins = 0;
    while (atomic_load_explicit(&t->job, memory_order_acquire) & JOB_ACTIVE) backoff(&spins);
}

/* Linux wakes a sleeping thread on or near the CPU of the thread that woke it. After an idle pause
 * (a service between requests; the bench's 30 ms gap between engines) libgomp's woken worker
 * landed on the caller's CPU and stayed there, the two threads sharing one core while the other
 * idled: dw3x3_s1_c384_14 on 2 threads took 0.044 ms after a 30 ms pause, 0.012 without one, and
 * 0.012 either way with OMP_PROC_BIND. Binding is not an option for a library (libgomp would pin
 * the caller's thread, and every thread it later creates inherits that). So a member that starts
 * a region on its leader's CPU moves itself off it: its affinity without that CPU (the kernel
 * migrates it at once), then its own mask back, so it stays unpinned. Costs a sched_getcpu (vDSO)
 * per member per region when the threads are already apart. */
static int current_cpu(void) {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

static void move_off_cpu(int leader_cpu) {
#ifdef __linux__
    if (leader_cpu < 0 || sched_getcpu() != leader_cpu) return;
    cpu_set_t own, others;
    if (sched_getaffinity(0, sizeof own, &own)) return; /* more CPUs than a cpu_set_t: leave it */
    others = own;
    CPU_CLR(leader_cpu, &others);
    if (CPU_COUNT(&others) == 0) return;
    if (sched_setaffinity(0, sizeof others, &others) == 0) sched_setaffinity(0, sizeof own, &own);
#else
    (void)leader_cpu;
#endif
}

#ifdef _OPENMP
/* One OpenMP region of `threads` in which every thread runs body(arg, tid, size): each member first
 * moves off the leader's CPU (move_off_cpu), each thread adopts the caller's FP environment, and at
 * the end the leader waits for its members here, spinning then yielding, rather than in libgomp's
 * barrier, which spins without yielding and then sleeps. A member woken onto the leader's CPU
 * cannot run while the leader spins there, and a leader that sleeps is woken onto the member's
 * CPU; after an idle pause the two chased each other that way call after call (dw3x3_s1_c32_112 on
 * 2 threads: 0.22 ms a call, 0.12 on 1 thread). */
static void run_region(int threads, void (*body)(void *arg, int tid, int size), void *arg) {
    const gconv_fpenv team_fp = gconv_fpenv_current();
    const int leader_cpu = current_cpu();
    _Atomic int finished = 0;
#pragma omp parallel num_threads(threads)
    {
        GCONV_FPENV_ADOPT(team_fp);
        const int tid = omp_get_thread_num(), size = omp_get_num_threads();
        if (tid) move_off_cpu(leader_cpu);
        body(arg, tid, size);
        if (tid) {
            atomic_fetch_add_explicit(&finished, 1, memory_order_release);
        } else {
            unsigned spins = 0;
            while (atomic_load_explicit(&finished, memory_order_acquire) < size - 1) backoff(&spins);
        }
    }
}

typedef struct {
    share_cursor *cursors;
    int threads;
    gconv_share_fn fn;
    const void *ctx;
} loop_region;

static void loop_region_body(void *arg, int tid, int size) {
    const loop_region *r = arg;
    (void)size;
    claim_and_run(r->cursors, r->threads, r->fn, r->ctx, tid);
}

typedef struct {
    team *t;
    int (*body)(void *ctx);
    void *ctx;
    int result;
} team_region;

static void team_region_body(void *arg, int tid, int size) {
    team_region *r = arg;
    if (tid == 0) {
        r->t->size = size; /* fewer than asked inside a user's parallel region */
        leading = r->t;
        r->result = r->body(r->ctx);
        leading = NULL;
        atomic_store_explicit(&r->t->quit, 1, memory_order_release);
    } else {
        team_loop(r->t, tid);
    }
}
#endif

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
    if (threads > CLAIM_MAX_THREADS) threads = CLAIM_MAX_THREADS;
    share_cursor cursors[CLAIM_MAX_THREADS];
    cursors_init(cursors, items, threads);
    loop_region r = {cursors, threads, fn, ctx};
    run_region(threads, loop_region_body, &r);
#else
    fn(ctx, 0, items, 0);
#endif
}

int gconv_team_run(int threads, int (*body)(void *ctx), void *ctx) {
    if (threads <= 1 || leading) return body(ctx);
#ifdef _OPENMP
    if (threads > CLAIM_MAX_THREADS) threads = CLAIM_MAX_THREADS;
    team t = {.fn = NULL};
    atomic_init(&t.job, 0);
    atomic_init(&t.quit, 0);
    team_region r = {&t, body, ctx, 0};
    run_region(threads, team_region_body, &r);
    return r.result;
#else
    return body(ctx);
#endif
}

/* ------------------------------------------------------------ test hook */

typedef struct {
    int64_t items;
    int threads, loops, slow_tid, slow_us; /* member slow_tid sleeps slow_us in its first chunk of each loop */
    int32_t *runner, *runs;
    int loop;
    _Atomic int slept;
} check_loop;

static void check_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    check_loop *c = (check_loop *)ctx;
    if (tid == c->slow_tid && !atomic_exchange(&c->slept, 1)) {
        struct timespec ts = {c->slow_us / 1000000, (long)(c->slow_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    for (int64_t i = begin; i < end; i++) {
        const int64_t k = (int64_t)c->loop * c->items + i;
        atomic_fetch_add((_Atomic int32_t *)&c->runs[k], 1);
        c->runner[k] = tid;
    }
}

static int check_body(void *ctx) {
    check_loop *c = ctx;
    for (c->loop = 0; c->loop < c->loops; c->loop++) {
        atomic_store(&c->slept, 0);
        gconv_parallel_for(c->threads, c->items, check_share, c);
    }
    return 0;
}

int gconv_test_parallel_for(int threads, int in_team, int loops, int64_t items, int slow_tid, int slow_us,
                            int32_t *runner, int32_t *runs) {
    if (threads < 1 || loops < 1 || items < 0 || slow_us < 0 || !runner || !runs) return -1;
    check_loop c = {.items = items, .threads = threads, .loops = loops, .slow_tid = slow_tid, .slow_us = slow_us,
                    .runner = runner, .runs = runs};
    atomic_init(&c.slept, 0);
    return in_team ? gconv_team_run(threads, check_body, &c) : check_body(&c);
}
