/* The element-wise loops at baseline x86-64 (SSE2) or the host's default target. */
#define ELTWISE_TABLE gconv_eltwise_loops_scalar
#include "eltwise_loops.h"
