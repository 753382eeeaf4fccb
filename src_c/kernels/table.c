/* Every microkernel in this build, in one table. The planner picks from it,
 * the tests run each entry against its scalar twin, and bench/ times them. */
#include "../common/internal.h"
#include "../winograd/winograd.h"

#define GEMM_ENTRY(fn, name_, isa_, mr_, nr_, edge, prfm) \
    {.name = name_, .kind = GCONV_KERNEL_GEMM, .isa = isa_, .mr = mr_, .nr = nr_, .nr_edge = edge, .gemm = fn, .prefetches_next = prfm}
#define GEMM(fn, name_, isa_, mr_, nr_) GEMM_ENTRY(fn, name_, isa_, mr_, nr_, 0, 0)
#define GEMM_EDGE(fn, name_, isa_, mr_, nr_, edge) GEMM_ENTRY(fn, name_, isa_, mr_, nr_, edge, 0)
#define GEMM_PRFM(fn, name_, isa_, mr_, nr_, edge) GEMM_ENTRY(fn, name_, isa_, mr_, nr_, edge, 1)
#define DW(fn, name_, isa_, kh, kw, s) \
    {.name = name_, .kind = GCONV_KERNEL_DWCONV, .isa = isa_, .mr = 1, .nr = 1, .kernel_h = kh, .kernel_w = kw, .stride = s, .dw = fn}
/* KxK stride-s depthwise specialization with its multi-channel entry point;
 * dil 0 = any dilation (the kernel reads it from the geometry). */
#define DWSM(fn, fn_mc, name_, isa_, k, s, dil) \
    {.name = name_, .kind = GCONV_KERNEL_DWCONV, .isa = isa_, .mr = 1, .nr = 1, .kernel_h = k, .kernel_w = k, .stride = s, .dilation = dil, .dw = fn, .dw_multi = fn_mc}
#define GDC(fn, name_, isa_) \
    {.name = name_, .kind = GCONV_KERNEL_GDC, .isa = isa_, .mr = 1, .nr = 1, .gdc = fn}
#define GCONV(fn, name_, isa_, oc, cols) \
    {.name = name_, .kind = GCONV_KERNEL_GCONV, .isa = isa_, .mr = oc, .nr = cols, .gconv = fn}
/* KxK stride-s dilation-1 specialization of a direct grouped-conv kernel */
#define GCONV_KS(fn, name_, isa_, oc, cols, k, s) \
    {.name = name_, .kind = GCONV_KERNEL_GCONV, .isa = isa_, .mr = oc, .nr = cols, .kernel_h = k, .kernel_w = k, .stride = s, .dilation = 1, .gconv = fn}
/* Winograd F(m x m, r x r) transforms: mr = m (output tile side), nr = the vector's lanes
 * (slots per group), kernel r x r, stride 1. */
#define WINO(fin, fout, name_, isa_, lanes, m, r) \
    {.name = name_, .kind = GCONV_KERNEL_WINOGRAD, .isa = isa_, .mr = m, .nr = lanes, .kernel_h = r, .kernel_w = r, .stride = 1, .wino_in = fin, .wino_out = fout}
#define VACT(fn, name_, isa_, act) \
    {.name = name_, .kind = GCONV_KERNEL_VACT, .isa = isa_, .mr = 1, .nr = 1, .vact = fn, .activation = act}

static const gconv_kernel_info kernel_table[] = {
    GEMM(gconv_f32_gemm_4x8__scalar, "f32-gemm-4x8-scalar", GCONV_ISA_SCALAR, 4, 8),
    GEMM(gconv_f32_gemm_6x16__avx2, "f32-gemm-6x16-avx2", GCONV_ISA_AVX2, 6, 16),
    /* the planner takes the first wide GEMM tile of an ISA: 8x48 (8x32 is kept for comparison) */
    GEMM_EDGE(gconv_f32_gemm_8x48__avx512, "f32-gemm-8x48-avx512", GCONV_ISA_AVX512, 8, 48, 1),
    /* its twin for 1x1 inputs larger than L2 (see gemm_streams_input in conv_plan.c) */
    GEMM_PRFM(gconv_f32_gemm_8x48__avx512_prfm, "f32-gemm-8x48-avx512-prfm", GCONV_ISA_AVX512, 8, 48, 1),
    GEMM(gconv_f32_gemm_8x32__avx512, "f32-gemm-8x32-avx512", GCONV_ISA_AVX512, 8, 32),
    /* few-pixel tiles (nr <= GEMV_MAX_PIXELS): the planner takes an ISA's widest for the
     * pixels past a GEMM's last whole vector (see gemm_narrow_from in conv_plan.c) */
    GEMM(gconv_f32_gemm_4x4__scalar, "f32-gemm-4x4-scalar", GCONV_ISA_SCALAR, 4, 4),
    GEMM(gconv_f32_gemm_8x4__avx512, "f32-gemm-8x4-avx512", GCONV_ISA_AVX512, 8, 4),
    GEMM(gconv_f32_gemm_4x1__scalar, "f32-gemm-4x1-scalar", GCONV_ISA_SCALAR, 4, 1),
    GEMM(gconv_f32_gemm_6x1__avx2, "f32-gemm-6x1-avx2", GCONV_ISA_AVX2, 6, 1),
    GEMM(gconv_f32_gemm_8x1__avx512, "f32-gemm-8x1-avx512", GCONV_ISA_AVX512, 8, 1),
    DW(gconv_f32_dwconv_generic__scalar, "f32-dwconv-generic-scalar", GCONV_ISA_SCALAR, 0, 0, 0),
    DW(gconv_f32_dwconv_generic__avx2, "f32-dwconv-generic-avx2", GCONV_ISA_AVX2, 0, 0, 0),
    DW(gconv_f32_dwconv_generic__avx512, "f32-dwconv-generic-avx512", GCONV_ISA_AVX512, 0, 0, 0),
    DWSM(gconv_f32_dwconv_3x3s1__avx2, gconv_f32_dwconv_3x3s1_mc__avx2, "f32-dwconv-3x3s1-avx2", GCONV_ISA_AVX2, 3, 1, 0),
    DWSM(gconv_f32_dwconv_3x3s2__avx2, gconv_f32_dwconv_3x3s2_mc__avx2, "f32-dwconv-3x3s2-avx2", GCONV_ISA_AVX2, 3, 2, 1),
    DWSM(gconv_f32_dwconv_5x5s1__avx2, gconv_f32_dwconv_5x5s1_mc__avx2, "f32-dwconv-5x5s1-avx2", GCONV_ISA_AVX2, 5, 1, 0),
    DWSM(gconv_f32_dwconv_5x5s2__avx2, gconv_f32_dwconv_5x5s2_mc__avx2, "f32-dwconv-5x5s2-avx2", GCONV_ISA_AVX2, 5, 2, 1),
    DWSM(gconv_f32_dwconv_7x7s1__avx2, gconv_f32_dwconv_7x7s1_mc__avx2, "f32-dwconv-7x7s1-avx2", GCONV_ISA_AVX2, 7, 1, 0),
    DWSM(gconv_f32_dwconv_3x3s1__avx512, gconv_f32_dwconv_3x3s1_mc__avx512, "f32-dwconv-3x3s1-avx512", GCONV_ISA_AVX512, 3, 1, 0),
    DWSM(gconv_f32_dwconv_3x3s2__avx512, gconv_f32_dwconv_3x3s2_mc__avx512, "f32-dwconv-3x3s2-avx512", GCONV_ISA_AVX512, 3, 2, 1),
    DWSM(gconv_f32_dwconv_5x5s1__avx512, gconv_f32_dwconv_5x5s1_mc__avx512, "f32-dwconv-5x5s1-avx512", GCONV_ISA_AVX512, 5, 1, 0),
    DWSM(gconv_f32_dwconv_5x5s2__avx512, gconv_f32_dwconv_5x5s2_mc__avx512, "f32-dwconv-5x5s2-avx512", GCONV_ISA_AVX512, 5, 2, 1),
    DWSM(gconv_f32_dwconv_7x7s1__avx512, gconv_f32_dwconv_7x7s1_mc__avx512, "f32-dwconv-7x7s1-avx512", GCONV_ISA_AVX512, 7, 1, 0),
    GDC(gconv_f32_gdc__scalar, "f32-gdc-scalar", GCONV_ISA_SCALAR),
    GDC(gconv_f32_gdc__avx2, "f32-gdc-avx2", GCONV_ISA_AVX2),
    GDC(gconv_f32_gdc__avx512, "f32-gdc-avx512", GCONV_ISA_AVX512),
    GCONV(gconv_f32_gconv_4oc__scalar, "f32-gconv-4oc-scalar", GCONV_ISA_SCALAR, 4, 1),
    GCONV(gconv_f32_gconv_4oc__avx2, "f32-gconv-4oc-avx2", GCONV_ISA_AVX2, 4, 16),
    GCONV_KS(gconv_f32_gconv_3x3s2_8oc__avx2, "f32-gconv-3x3s2-8oc-avx2", GCONV_ISA_AVX2, 8, 8, 3, 2),
    /* the planner takes the first: the 2-row variant (it defers to 4oc where it does not apply) */
    GCONV(gconv_f32_gconv_4oc2r__avx512, "f32-gconv-4oc2r-avx512", GCONV_ISA_AVX512, 4, 32),
    GCONV(gconv_f32_gconv_4oc__avx512, "f32-gconv-4oc-avx512", GCONV_ISA_AVX512, 4, 32),
    GCONV_KS(gconv_f32_gconv_3x3s2_8oc__avx512, "f32-gconv-3x3s2-8oc-avx512", GCONV_ISA_AVX512, 8, 32, 3, 2),
    WINO(gconv_f32_winograd_in_4x4_3x3__scalar, gconv_f32_winograd_out_4x4_3x3__scalar, "f32-winograd-4x4-3x3-scalar", GCONV_ISA_SCALAR, 1, 4, 3),
    WINO(gconv_f32_winograd_in_4x4_3x3__avx2, gconv_f32_winograd_out_4x4_3x3__avx2, "f32-winograd-4x4-3x3-avx2", GCONV_ISA_AVX2, 8, 4, 3),
    WINO(gconv_f32_winograd_in_4x4_3x3__avx512, gconv_f32_winograd_out_4x4_3x3__avx512, "f32-winograd-4x4-3x3-avx512", GCONV_ISA_AVX512, 16, 4, 3),
    WINO(gconv_f32_winograd_in_2x2_5x5__scalar, gconv_f32_winograd_out_2x2_5x5__scalar, "f32-winograd-2x2-5x5-scalar", GCONV_ISA_SCALAR, 1, 2, 5),
    WINO(gconv_f32_winograd_in_2x2_5x5__avx2, gconv_f32_winograd_out_2x2_5x5__avx2, "f32-winograd-2x2-5x5-avx2", GCONV_ISA_AVX2, 8, 2, 5),
    WINO(gconv_f32_winograd_in_2x2_5x5__avx512, gconv_f32_winograd_out_2x2_5x5__avx512, "f32-winograd-2x2-5x5-avx512", GCONV_ISA_AVX512, 16, 2, 5),
    VACT(gconv_f32_vhswish__scalar, "f32-vhswish-scalar", GCONV_ISA_SCALAR, GCONV_ACT_HARDSWISH),
    VACT(gconv_f32_vhswish__avx2, "f32-vhswish-avx2", GCONV_ISA_AVX2, GCONV_ACT_HARDSWISH),
    VACT(gconv_f32_vhswish__avx512, "f32-vhswish-avx512", GCONV_ISA_AVX512, GCONV_ACT_HARDSWISH),
    VACT(gconv_f32_vprelu__scalar, "f32-vprelu-scalar", GCONV_ISA_SCALAR, GCONV_ACT_PRELU),
    VACT(gconv_f32_vprelu__avx2, "f32-vprelu-avx2", GCONV_ISA_AVX2, GCONV_ACT_PRELU),
    VACT(gconv_f32_vprelu__avx512, "f32-vprelu-avx512", GCONV_ISA_AVX512, GCONV_ACT_PRELU),
};

const gconv_kernel_info *gconv_kernel_table(size_t *count) {
    *count = sizeof kernel_table / sizeof kernel_table[0];
    return kernel_table;
}
