/* TEMPORARY: weak stand-ins until src_c/ops/ lands (strong definitions override them). */
#include "gconv_ops.h"
#include "../common/internal.h"
#define STUB return gconv_fail(GCONV_EUNSUPPORTED, "operator not built yet")
__attribute__((weak)) gconv_status gconv_tensor_numel(const gconv_tensor_shape *s, int64_t *numel) {
    int64_t a, b;
    if (s->n < 0 || s->c < 0 || s->h < 0 || s->w < 0) return gconv_fail(GCONV_EINVAL, "negative dim");
    if (!gconv_mul_i64(s->n, s->c, &a) || !gconv_mul_i64(a, s->h, &b) || !gconv_mul_i64(b, s->w, numel))
        return gconv_fail(GCONV_EOVERFLOW, "numel overflows");
    return GCONV_OK;
}
__attribute__((weak)) gconv_status gconv_pool2d(const gconv_pool_desc *d, const gconv_tensor_shape *in, const float *x, float *y, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_global_avgpool(const gconv_tensor_shape *in, const float *x, float *y, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_channel_shuffle(const gconv_tensor_shape *in, int64_t g, const float *x, float *y, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_unary(gconv_unary_kind k, const gconv_tensor_shape *s, const float *x, float *y, float a, float b, const float *pc, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_binary(gconv_binary_kind k, const gconv_tensor_shape *as, const float *a, const gconv_tensor_shape *bs, const float *b, const gconv_tensor_shape *ys, float *y, gconv_unary_kind act, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_copy_channels(const gconv_tensor_shape *ss, const float *s, int64_t c0, int64_t n, int64_t dc, float *d, int64_t d0, int t) { STUB; }
__attribute__((weak)) gconv_status gconv_softmax(int64_t r, int64_t c, const float *x, float *y) { STUB; }
__attribute__((weak)) gconv_status gconv_resize(const gconv_resize_desc *d, const gconv_tensor_shape *in, const float *x, int64_t oh, int64_t ow, float *y, int t) { STUB; }
