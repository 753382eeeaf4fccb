/* f32-gdc-scalar: global depthwise conv (1x1 output, kernel == input), any number
 * of channels per call. The oracle for the SIMD twins; also what the scalar ISA
 * runs, because per-plane calls of the generic kernel cost more than the dot product. */
#include "../common/internal.h"

void gconv_f32_gdc__scalar(size_t channels, size_t taps, const float *in, size_t in_stride, const float *w,
                           float *out, const gconv_minmax *clamp) {
    for (size_t c = 0; c < channels; c++) {
        const float *x = in + c * in_stride;
        const float *t = w + c * (taps + 1);
        float acc = t[0];
        for (size_t i = 0; i < taps; i++) acc += t[1 + i] * x[i];
        out[c] = gconv_clampf(acc, clamp);
    }
}
