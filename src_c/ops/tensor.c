/* Shape arithmetic shared by every operator in src_c/ops, and the choice of element-wise loop table. */
#include "ops_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

gconv_status gconv_tensor_numel(const gconv_tensor_shape *s, int64_t *numel) {
    if (!s || !numel) return gconv_fail(GCONV_EINVAL, "shape: NULL pointer");
    if (s->n < 0 || s->c < 0 || s->h < 0 || s->w < 0)
        return gconv_fail(GCONV_EINVAL, "shape: dims must be non-negative, got (%lld, %lld, %lld, %lld)",
                          (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w);
    int64_t count;
    if (!gconv_mul_i64(s->n, s->c, &count) || !gconv_mul_i64(count, s->h, &count) ||
        !gconv_mul_i64(count, s->w, &count))
        return gconv_fail(GCONV_EOVERFLOW, "shape: (%lld, %lld, %lld, %lld) has more elements than 64 bits hold",
                          (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w);
    *numel = count;
    return GCONV_OK;
}

gconv_status gconv_ops_check_shape(const gconv_tensor_shape *s, const char *name, int64_t *numel) {
    if (!s) return gconv_fail(GCONV_EINVAL, "%s: shape is NULL", name);
    if (s->n < 0 || s->c < 0 || s->h < 0 || s->w < 0)
        return gconv_fail(GCONV_EINVAL, "%s: dims must be non-negative, got (%lld, %lld, %lld, %lld)", name,
                          (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w);
    int64_t count, bytes;
    /* Half of SIZE_MAX, like the conv checks: pointer differences stay representable. */
    if (!gconv_mul_i64(s->n, s->c, &count) || !gconv_mul_i64(count, s->h, &count) ||
        !gconv_mul_i64(count, s->w, &count) || !gconv_mul_i64(count, (int64_t)sizeof(float), &bytes) ||
        (uint64_t)bytes > SIZE_MAX / 2)
        return gconv_fail(GCONV_EOVERFLOW, "%s: shape (%lld, %lld, %lld, %lld) overflows the address space", name,
                          (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w);
    *numel = count;
    return GCONV_OK;
}

gconv_isa gconv_ops_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    /* Decided once: CPUID can trap to a hypervisor, and this runs on every element-wise call.
     * GCONV_ISA (the variable the Python layer reads at import) caps it: scalar keeps the baseline
     * loops, avx2 the AVX2 ones. */
    static int chosen = -1;
    int v = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (v < 0) {
        const unsigned cpu = gconv_cpu_isa_mask();
        const char *forced = getenv("GCONV_ISA");
        const int cap = !forced ? GCONV_ISA_AVX512
                        : strcmp(forced, "scalar") == 0 ? GCONV_ISA_SCALAR
                        : strcmp(forced, "avx2") == 0   ? GCONV_ISA_AVX2
                                                        : GCONV_ISA_AVX512;
        v = GCONV_ISA_SCALAR;
        if (cap >= GCONV_ISA_AVX2 && ((cpu >> GCONV_ISA_AVX2) & 1u)) v = GCONV_ISA_AVX2;
        if (cap >= GCONV_ISA_AVX512 && ((cpu >> GCONV_ISA_AVX512) & 1u)) v = GCONV_ISA_AVX512;
        __atomic_store_n(&chosen, v, __ATOMIC_RELAXED);
    }
    return (gconv_isa)v;
#else
    return GCONV_ISA_SCALAR;
#endif
}

const gconv_eltwise_loops *gconv_ops_eltwise_loops(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (gconv_ops_isa() >= GCONV_ISA_AVX2) return &gconv_eltwise_loops_avx2;
#endif
    return &gconv_eltwise_loops_scalar;
}
