/* f32-dwconv-3x3s2-avx2: depthwise 3x3, stride 2, any padding, dilation 1.
 * Tile: 8 output columns x up to 4 output rows per pass. The body is shared
 * with the other KxK / stride variants of this ISA: dwconv_kxk_avx2.h. */
#define DW_K 3
#define DW_S 2
#define DW_FN gconv_f32_dwconv_3x3s2__avx2
#define DW_FN_MC gconv_f32_dwconv_3x3s2_mc__avx2
#include "dwconv_kxk_avx2.h"
