/* deconv-direct-avx2: the direct transposed-conv kernel compiled for AVX2 + FMA
 * (same source as the scalar twin; the target is per file, the build is baseline). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
#define DECONV_DIRECT_FN gconv_deconv_direct__avx2
#define DD_VL 8
#include "deconv_direct_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
