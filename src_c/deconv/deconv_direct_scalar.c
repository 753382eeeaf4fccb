/* deconv-direct-scalar: the direct transposed-conv kernel at the baseline target
 * (the twin the AVX2 and AVX-512 builds of the same source are tested against). */
#define DECONV_DIRECT_FN gconv_deconv_direct__scalar
#include "deconv_direct_impl.h"
