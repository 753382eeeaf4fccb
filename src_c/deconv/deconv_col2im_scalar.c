/* deconv-col2im-scalar: the GEMM path's col2im, fill and clamp at the baseline target target (the twin the SIMD builds of the same source are tested against). */
#define DECONV_COL2IM_NAME gconv_deconv_col2im__scalar
#include "deconv_col2im_impl.h"
