/* deconv-col2im-avx512: the GEMM path's col2im, fill and clamp at the AVX-512F target (same source as the other ISAs). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#define DECONV_COL2IM_NAME gconv_deconv_col2im__avx512
#include "deconv_col2im_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
