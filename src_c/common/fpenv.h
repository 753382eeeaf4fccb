/* Flush-to-zero / denormals-are-zero for the float32 kernels (x86 MXCSR), saved and restored.
 *
 * Why: subnormal float32 inputs or results take a microcode assist on every SSE/AVX/AVX-512
 * multiply/FMA that sees them. Measured on the 2-core AVX-512 Xeon this project runs on (1 thread,
 * tests/test_numerics.py): subnormal inputs or weights make the GEMM kernels 67-144x slower, the
 * depthwise and grouped-direct kernels 15-74x, GDC 3-7x; with FTZ|DAZ set they run at normal speed.
 * The double-accumulating reference is unaffected.
 *
 * MXCSR is per thread, and libgomp's pool threads do not pick up later changes made by the calling
 * thread, so the bits must be set in EVERY thread that runs a kernel, for the duration of its work:
 *
 *     const gconv_fpenv saved = gconv_fpenv_enter_ftz_daz();
 *     ... kernels ...
 *     gconv_fpenv_restore(saved);
 *
 * i.e. at the top of the body of each `#pragma omp parallel` region (a `parallel for` must become
 * `parallel { enter; for ...; restore }`), and around the serial paths in the calling thread; the
 * restore gives the caller (Python, NumPy) its own floating-point environment back.
 *
 * Semantics: with DAZ a subnormal input reads as (signed) zero, with FTZ a subnormal result is
 * written as zero, so results differ from torch's defaults (which keep subnormals unless
 * torch.set_flush_denormal(True)) by less than FLT_MIN * K in absolute terms. NaN and Inf are not
 * affected. Off x86 the functions do nothing.
 */
#ifndef GCONV_FPENV_H
#define GCONV_FPENV_H

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h> /* _mm_getcsr, _mm_setcsr (SSE: every x86-64 CPU) */

#define GCONV_MXCSR_DAZ 0x0040u /* bit 6: denormals are zero (inputs) */
#define GCONV_MXCSR_FTZ 0x8000u /* bit 15: flush to zero (results) */

typedef unsigned int gconv_fpenv;

/* Sets FTZ and DAZ in this thread's MXCSR; returns the previous MXCSR for gconv_fpenv_restore. */
static inline gconv_fpenv gconv_fpenv_enter_ftz_daz(void) {
    const unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | GCONV_MXCSR_FTZ | GCONV_MXCSR_DAZ);
    return saved;
}

/* Restores this thread's MXCSR (rounding mode, exception masks and flags included). */
static inline void gconv_fpenv_restore(gconv_fpenv saved) { _mm_setcsr(saved); }

#else

typedef int gconv_fpenv;
static inline gconv_fpenv gconv_fpenv_enter_ftz_daz(void) { return 0; }
static inline void gconv_fpenv_restore(gconv_fpenv saved) { (void)saved; }

#endif
#endif /* GCONV_FPENV_H */
