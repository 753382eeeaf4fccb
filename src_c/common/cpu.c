/* Runtime ISA detection: CPUID for the instructions, XGETBV for the OS having
 * enabled the register state (a CPU with AVX-512 under an OS that does not
 * save ZMM registers must not take the AVX-512 path). */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static unsigned detect_isa_mask(void) {
    unsigned mask = 1u << GCONV_ISA_SCALAR;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return mask;
    const int has_fma = (ecx >> 12) & 1, has_osxsave = (ecx >> 27) & 1, has_avx = (ecx >> 28) & 1;
    if (!has_osxsave || !has_avx) return mask;
    const uint64_t xcr0 = read_xcr0();
    const int os_ymm = (xcr0 & 0x6) == 0x6;       /* SSE + AVX state */
    const int os_zmm = (xcr0 & 0xE6) == 0xE6;     /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return mask;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const int has_avx2 = (ebx >> 5) & 1, has_avx512f = (ebx >> 16) & 1;
    if (os_ymm && has_avx2 && has_fma) mask |= 1u << GCONV_ISA_AVX2;
    if (os_zmm && has_avx512f && (mask & (1u << GCONV_ISA_AVX2))) mask |= 1u << GCONV_ISA_AVX512;
    return mask;
}

/* CPUID traps to the hypervisor in a VM (tens of microseconds measured in a Firecracker guest), so
 * the answer is computed once. Racing first callers compute the same value; 0 means "not yet". */
unsigned gconv_cpu_isa_mask(void) {
    static unsigned cached;
    unsigned mask = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!mask) {
        mask = detect_isa_mask();
        __atomic_store_n(&cached, mask, __ATOMIC_RELAXED);
    }
    return mask;
}
#else
unsigned gconv_cpu_isa_mask(void) { return 1u << GCONV_ISA_SCALAR; }
#endif

const char *gconv_isa_name(gconv_isa isa) {
    switch (isa) {
    case GCONV_ISA_SCALAR: return "scalar";
    case GCONV_ISA_AVX2: return "avx2";
    case GCONV_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}
