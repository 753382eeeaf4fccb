/* f32-dwconv-7x7s1-avx512: depthwise 7x7, stride 1, any padding, any dilation (read from the geometry).
 * Tile: 16 output columns x up to 8 output rows per pass. The body is shared
 * with the other KxK / stride variants of this ISA: dwconv_kxk_avx512.h. */
#define DW_K 7
#define DW_S 1
#define DW_FN gconv_f32_dwconv_7x7s1__avx512
#define DW_FN_MC gconv_f32_dwconv_7x7s1_mc__avx512
#include "dwconv_kxk_avx512.h"
