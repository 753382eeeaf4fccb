/* Validation shared by gconv_conv_desc_check and gconv_deconv_desc_check. */
#include <math.h>

#include "internal.h"

gconv_status gconv_window_check(const gconv_window *w) {
    if (w->groups <= 0) return gconv_fail(GCONV_EINVAL, "groups must be positive, got %lld", (long long)w->groups);
    if (w->c_in <= 0) return gconv_fail(GCONV_EINVAL, "in_channels must be positive, got %lld", (long long)w->c_in);
    if (w->c_out <= 0) return gconv_fail(GCONV_EINVAL, "out_channels must be positive, got %lld", (long long)w->c_out);
    if (w->c_in % w->groups)
        return gconv_fail(GCONV_EINVAL, "groups=%lld does not divide in_channels=%lld", (long long)w->groups,
                          (long long)w->c_in);
    if (w->c_out % w->groups)
        return gconv_fail(GCONV_EINVAL, "groups=%lld does not divide out_channels=%lld", (long long)w->groups,
                          (long long)w->c_out);
    if (w->kernel_h <= 0 || w->kernel_w <= 0)
        return gconv_fail(GCONV_EINVAL, "kernel_size must be positive, got (%lld, %lld)", (long long)w->kernel_h,
                          (long long)w->kernel_w);
    if (w->stride_h <= 0 || w->stride_w <= 0)
        return gconv_fail(GCONV_EINVAL, "stride must be positive, got (%lld, %lld)", (long long)w->stride_h,
                          (long long)w->stride_w);
    if (w->dilation_h <= 0 || w->dilation_w <= 0)
        return gconv_fail(GCONV_EINVAL, "dilation must be positive, got (%lld, %lld)", (long long)w->dilation_h,
                          (long long)w->dilation_w);
    if (w->pad_top < 0 || w->pad_bottom < 0 || w->pad_left < 0 || w->pad_right < 0)
        return gconv_fail(GCONV_EINVAL, "padding must be non-negative");
    if ((unsigned)w->activation >= GCONV_ACT_COUNT)
        return gconv_fail(GCONV_EINVAL, "activation: unknown value %d", (int)w->activation);
    if (isnan(w->clamp.min) || isnan(w->clamp.max) || w->clamp.min > w->clamp.max)
        return gconv_fail(GCONV_EINVAL, "clamp bounds must satisfy min <= max");
    int64_t t;
    if (!gconv_mul_i64(w->kernel_h - 1, w->dilation_h, &t) || !gconv_add_i64(t, 1, &t) ||
        !gconv_mul_i64(w->kernel_w - 1, w->dilation_w, &t) || !gconv_add_i64(t, 1, &t))
        return gconv_fail(GCONV_EOVERFLOW, "kernel_size: the dilated kernel size overflows");
    return GCONV_OK;
}
