/* Flush-to-zero / denormals-are-zero for the float32 kernels (x86 MXCSR), set per call and restored.
 *
 * Why: subnormal float32 inputs or results take a microcode assist on every SSE/AVX/AVX-512
 * multiply/FMA that sees them. Measured on the 2-core AVX-512 Xeon this project runs on (1 thread,
 * `python -m bench denormals`): without FTZ|DAZ, subnormal inputs or weights made the GEMM kernels
 * 67-144x slower, the depthwise and grouped-direct kernels 15-74x, GDC 3-7x; with them every kernel
 * runs within 2x of normal speed.
 *
 * The switch is process-wide (gconv_set_flush_denormal in gconv.h, default on), like torch's
 * set_flush_denormal. MXCSR is per thread, and libgomp's pool threads keep their own, so:
 *
 *   - every public entry point that computes opens GCONV_FPENV_SCOPE() first. The outermost one in a
 *     thread reads the switch once and sets (on) or clears (off) FTZ|DAZ in the calling thread until
 *     the entry point returns; nested entry points (the program executor's conv, pool, ... steps) keep
 *     the outer mode, so a whole forward runs in the mode it started with even if another thread flips
 *     the switch meanwhile. Off clears the bits rather than leaving them alone: results then do not
 *     depend on which thread computed them (torch.set_flush_denormal(True) sets them in the caller).
 *   - every `#pragma omp parallel` body starts with GCONV_FPENV_ADOPT(team), team being
 *     gconv_fpenv_current() read by the calling thread just before the region: each team member runs
 *     with the caller's control bits (FTZ, DAZ, rounding) and gets its own back at the region's end.
 *     A `parallel for` becomes `parallel { ADOPT; for }`: once per thread, not per item.
 *
 * Both restore through GCC/Clang's cleanup attribute, so every return path gives the caller (Python,
 * NumPy) its MXCSR back exactly, sticky exception flags included.
 *
 * Semantics with the switch on: a subnormal input reads as (signed) zero (DAZ) and a subnormal result
 * is written as zero (FTZ), so results differ from torch's defaults (which keep subnormals) by less
 * than FLT_MIN * K in absolute terms. NaN and Inf are not affected. Off x86 it is all a no-op.
 */
#ifndef GCONV_FPENV_H
#define GCONV_FPENV_H

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define GCONV_HAVE_MXCSR 1
#include <xmmintrin.h> /* _mm_getcsr, _mm_setcsr (SSE: every x86-64 CPU) */

#define GCONV_MXCSR_DAZ 0x0040u   /* bit 6: denormals are zero (inputs) */
#define GCONV_MXCSR_FTZ 0x8000u   /* bit 15: flush to zero (results) */
#define GCONV_MXCSR_FLAGS 0x003Fu /* bits 0-5: sticky exception flags, not control */
#define GCONV_MXCSR_ROUNDING 0x6000u /* bits 13-14: rounding control */

typedef unsigned int gconv_fpenv;

static inline gconv_fpenv gconv_fpenv_current(void) { return _mm_getcsr(); }
static inline void gconv_fpenv_restore(gconv_fpenv saved) { _mm_setcsr(saved); }

/* This thread takes team's control bits (keeping its own flags); returns its MXCSR for restore. */
static inline gconv_fpenv gconv_fpenv_adopt(gconv_fpenv team) {
    const unsigned int saved = _mm_getcsr();
    const unsigned int want = (team & ~GCONV_MXCSR_FLAGS) | (saved & GCONV_MXCSR_FLAGS);
    if (want != saved) _mm_setcsr(want);
    return saved;
}

/* The control bits of `csr` with FTZ|DAZ set (flush) or cleared. */
static inline gconv_fpenv gconv_fpenv_with_flush(gconv_fpenv csr, int flush) {
    return flush ? csr | GCONV_MXCSR_FTZ | GCONV_MXCSR_DAZ : csr & ~(GCONV_MXCSR_FTZ | GCONV_MXCSR_DAZ);
}

#else

#define GCONV_HAVE_MXCSR 0
typedef unsigned int gconv_fpenv;
static inline gconv_fpenv gconv_fpenv_current(void) { return 0; }
static inline void gconv_fpenv_restore(gconv_fpenv saved) { (void)saved; }
static inline gconv_fpenv gconv_fpenv_adopt(gconv_fpenv team) { (void)team; return 0; }
static inline gconv_fpenv gconv_fpenv_with_flush(gconv_fpenv csr, int flush) { (void)flush; return csr; }

#endif

static inline void gconv_fpenv_restore_at(const gconv_fpenv *saved) { gconv_fpenv_restore(*saved); }

/* A public entry point's floating-point mode (fpenv.c): the outermost scope in a thread applies the
 * switch, inner ones change nothing. */
typedef struct {
    gconv_fpenv saved;
    int outermost;
} gconv_fpscope;

gconv_fpscope gconv_fpscope_enter(void);
void gconv_fpscope_exit(const gconv_fpscope *scope);

#define GCONV_FPENV_SCOPE()                                                                                  \
    const gconv_fpscope gconv_fpscope_ __attribute__((cleanup(gconv_fpscope_exit), unused)) =              \
        gconv_fpscope_enter()

#define GCONV_FPENV_ADOPT(team)                                                                              \
    const gconv_fpenv gconv_fpenv_own_ __attribute__((cleanup(gconv_fpenv_restore_at), unused)) =          \
        gconv_fpenv_adopt(team)

#endif /* GCONV_FPENV_H */
