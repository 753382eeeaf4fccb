/* Softmax over the last axis of a (rows, cols) matrix, as torch computes it:
 * subtract the row's max (so exp never overflows), exponentiate, then scale by
 * the reciprocal of the sum. A NaN anywhere in a row makes the row NaN, and a
 * +inf makes it NaN too (inf - inf), as in torch. */
#include "ops_internal.h"

static float row_max(const float *x, int64_t n) {
    /* Eight lanes so GCC vectorizes the NaN-propagating max without reassociating. */
    enum { LANES = 8 };
    float lane[LANES];
    for (int l = 0; l < LANES; l++) lane[l] = -INFINITY;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) lane[l] = gconv_ops_max_nan(lane[l], x[i + l]);
    float m = -INFINITY;
    for (int l = 0; l < LANES; l++) m = gconv_ops_max_nan(m, lane[l]);
    for (; i < n; i++) m = gconv_ops_max_nan(m, x[i]);
    return m;
}

gconv_status gconv_softmax(int64_t rows, int64_t cols, const float *x, float *y) {
    GCONV_FPENV_SCOPE();
    if (rows < 0 || cols < 0)
        return gconv_fail(GCONV_EINVAL, "softmax: rows and cols must be non-negative, got %lld x %lld",
                          (long long)rows, (long long)cols);
    int64_t count, bytes;
    if (!gconv_mul_i64(rows, cols, &count) || !gconv_mul_i64(count, (int64_t)sizeof(float), &bytes) ||
        (uint64_t)bytes > SIZE_MAX / 2)
        return gconv_fail(GCONV_EOVERFLOW, "softmax: %lld x %lld overflows the address space", (long long)rows,
                          (long long)cols);
    if (count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols; /* xr == yr (in place) is fine: each pass reads before it writes */
        float *yr = y + r * cols;
        const float m = row_max(xr, cols);
        double sum = 0.0; /* exact enough that only exp's rounding shows, at any row length */
        for (int64_t i = 0; i < cols; i++) {
            const float e = expf(xr[i] - m);
            yr[i] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < cols; i++) yr[i] *= inv;
    }
    return GCONV_OK;
}
