/* Every microkernel in this build, in one table. The planner picks from it,
 * the tests run each entry against its scalar twin, and bench/ times them. */
#include "../common/internal.h"

#define GEMM(fn, name, isa, mr, nr) {name, GCONV_KERNEL_GEMM, isa, mr, nr, 0, 0, 0, fn, NULL}
#define DW(fn, name, isa, kh, kw, s) {name, GCONV_KERNEL_DWCONV, isa, 1, 1, kh, kw, s, NULL, fn}

static const gconv_kernel_info kernel_table[] = {
    GEMM(gconv_f32_gemm_4x8__scalar, "f32-gemm-4x8-scalar", GCONV_ISA_SCALAR, 4, 8),
    GEMM(gconv_f32_gemm_6x16__avx2, "f32-gemm-6x16-avx2", GCONV_ISA_AVX2, 6, 16),
    GEMM(gconv_f32_gemm_8x32__avx512, "f32-gemm-8x32-avx512", GCONV_ISA_AVX512, 8, 32),
    DW(gconv_f32_dwconv_generic__scalar, "f32-dwconv-generic-scalar", GCONV_ISA_SCALAR, 0, 0, 0),
    DW(gconv_f32_dwconv_generic__avx2, "f32-dwconv-generic-avx2", GCONV_ISA_AVX2, 0, 0, 0),
    DW(gconv_f32_dwconv_generic__avx512, "f32-dwconv-generic-avx512", GCONV_ISA_AVX512, 0, 0, 0),
};

const gconv_kernel_info *gconv_kernel_table(size_t *count) {
    *count = sizeof kernel_table / sizeof kernel_table[0];
    return kernel_table;
}
