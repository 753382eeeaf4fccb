/* deconv-direct-avx512: the direct transposed-conv kernel compiled for AVX-512F
 * (same source as the scalar twin; the target is per file, the build is baseline). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#endif
#define DECONV_DIRECT_FN gconv_deconv_direct__avx512
#define DD_VL 16
#include "deconv_direct_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
