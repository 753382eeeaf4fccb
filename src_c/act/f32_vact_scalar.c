/* f32-vhswish-scalar / f32-vprelu-scalar: in-place activations run on an
 * output tile right after the conv kernel wrote it (still in L1). Formulas
 * and operation order follow PyTorch's CPU kernels so results match bit for bit. */
#include "../common/internal.h"

void gconv_f32_vhswish__scalar(size_t n, float *x, float unused) {
    (void)unused;
    for (size_t i = 0; i < n; i++) {
        float t = x[i] + 3.0f;
        t = t < 0.0f ? 0.0f : t; /* NaN passes through both, as in torch */
        t = t > 6.0f ? 6.0f : t;
        x[i] = x[i] * t / 6.0f;
    }
}

void gconv_f32_vprelu__scalar(size_t n, float *x, float slope) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}
