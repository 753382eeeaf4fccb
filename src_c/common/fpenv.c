/* The flush-denormal switch and the entry-point scope of fpenv.h. */
#include "fpenv.h"

#include "internal.h"

/* Process-wide, like torch.set_flush_denormal; read once per outermost call (relaxed: a call sees the
 * value set before it started in program order, and a concurrent flip only decides which mode a call
 * that races with it gets, never a mix within one call). */
static int flush_denormal = 1;

/* Public entry points open on this thread: only the outermost applies the switch. */
static _Thread_local int scope_depth;

void gconv_set_flush_denormal(int on) { __atomic_store_n(&flush_denormal, on != 0, __ATOMIC_RELAXED); }

int gconv_get_flush_denormal(void) { return __atomic_load_n(&flush_denormal, __ATOMIC_RELAXED); }

int gconv_flush_denormal_supported(void) { return GCONV_HAVE_MXCSR; }

gconv_fpscope gconv_fpscope_enter(void) {
    gconv_fpscope s = {0, 0};
    if (scope_depth++ > 0) return s;
    s.saved = gconv_fpenv_current();
    s.outermost = 1;
    const gconv_fpenv want = gconv_fpenv_with_flush(s.saved, gconv_get_flush_denormal());
    if (want != s.saved) gconv_fpenv_restore(want);
    return s;
}

void gconv_fpscope_exit(const gconv_fpscope *scope) {
    scope_depth--;
    if (scope->outermost) gconv_fpenv_restore(scope->saved);
}

unsigned gconv_fpenv_get(void) { return gconv_fpenv_current(); }

gconv_status gconv_fpenv_set(unsigned csr) {
#if GCONV_HAVE_MXCSR
    /* Reserved bits would fault and unmasked exceptions would trap in the caller's next float op. */
    const unsigned settable = GCONV_MXCSR_FTZ | GCONV_MXCSR_DAZ | GCONV_MXCSR_ROUNDING | GCONV_MXCSR_FLAGS;
    if ((csr & ~settable) != (gconv_fpenv_current() & ~settable))
        return gconv_fail(GCONV_EINVAL, "csr: only the FTZ, DAZ, rounding and flag bits may change (0x%04x)", settable);
    gconv_fpenv_restore(csr);
    return GCONV_OK;
#else
    return csr ? gconv_fail(GCONV_EUNSUPPORTED, "csr: this CPU has no MXCSR") : GCONV_OK;
#endif
}
