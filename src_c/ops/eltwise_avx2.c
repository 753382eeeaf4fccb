/* The element-wise loops compiled for AVX2 (8 floats per vector). Without FMA on
 * purpose: no multiply-add is contracted, so results equal the scalar table's. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2")
#endif

#define ELTWISE_TABLE gconv_eltwise_loops_avx2
#include "eltwise_loops.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
