/* f32-dwconv-5x5s2-avx512: depthwise 5x5, stride 2, any padding, dilation 1.
 * Tile: 16 output columns x up to 8 output rows per pass. The body is shared
 * with the other KxK / stride variants of this ISA: dwconv_kxk_avx512.h. */
#define DW_K 5
#define DW_S 2
#define DW_FN gconv_f32_dwconv_5x5s2__avx512
#define DW_FN_MC gconv_f32_dwconv_5x5s2_mc__avx512
#include "dwconv_kxk_avx512.h"
