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

const gconv_eltwise_loops *gconv_ops_eltwise_loops(void) {
#if defined(__x86_64__) || defined(__i386__)
    /* Decided once: CPUID can trap to a hypervisor, and this runs on every element-wise call.
     * GCONV_ISA=scalar (the variable the Python layer reads at import) keeps the baseline table. */
    static int use_avx2 = -1;
    int v = __atomic_load_n(&use_avx2, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *forced = getenv("GCONV_ISA");
        v = (int)((gconv_cpu_isa_mask() >> GCONV_ISA_AVX2) & 1u) && !(forced && strcmp(forced, "scalar") == 0);
        __atomic_store_n(&use_avx2, v, __ATOMIC_RELAXED);
    }
    if (v) return &gconv_eltwise_loops_avx2;
#endif
    return &gconv_eltwise_loops_scalar;
}
