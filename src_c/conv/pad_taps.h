/* NaN/Inf weight taps over zero padding (pad_taps.c): listed at plan time, their outputs set to NaN
 * after a run, so every conv path multiplies padded zeros as the definition (and torch) does. */
#ifndef GCONV_PAD_TAPS_H
#define GCONV_PAD_TAPS_H

#include "../common/internal.h"

/* Lists the (co, ky, kx) taps, as int64 triples, whose weight is NaN/Inf for some input channel, when
 * the conv has padding (else none). *taps is NULL when there are none; release with free(). */
gconv_status gconv_pad_taps_find(const gconv_conv_desc *d, const float *weight, int64_t **taps, size_t *count);

/* Writes NaN to every output of y (batch, c_out, out_h, out_w) where a listed tap reads padding. */
void gconv_pad_taps_mark(const gconv_conv_desc *d, const gconv_conv_geom *g, const int64_t *taps, size_t count,
                         float *y);

#endif
