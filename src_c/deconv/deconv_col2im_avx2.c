/* deconv-col2im-avx2: the GEMM path's col2im, fill and clamp at the AVX2 + FMA target (same source as the other ISAs). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#define DECONV_COL2IM_NAME gconv_deconv_col2im__avx2
#include "deconv_col2im_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
