/* Channel-wise data movement: ShuffleNet's channel shuffle, and the channel
 * copies that Concat and Split are made of. Both are whole-plane memcpys. */
#include "ops_internal.h"

#include <string.h>

gconv_status gconv_channel_shuffle(const gconv_tensor_shape *in, int64_t groups, const float *x, float *y,
                                   int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t count;
    gconv_status st;
    if ((st = gconv_ops_check_shape(in, "x", &count))) return st;
    if (groups < 1) return gconv_fail(GCONV_EINVAL, "groups must be positive, got %lld", (long long)groups);
    if (in->c % groups)
        return gconv_fail(GCONV_EINVAL, "groups=%lld does not divide the %lld channels", (long long)groups,
                          (long long)in->c);
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    if (count == 0) return GCONV_OK;
    if (!x || !y) return gconv_fail(GCONV_EINVAL, "x and y must not be NULL");
    const int64_t per_group = in->c / groups, hw = in->h * in->w, planes = in->n * in->c;
    const size_t plane_bytes = (size_t)hw * sizeof(float);
    const int threads = gconv_ops_threads(num_threads, planes, count);
    /* Output channel j*groups + i is input channel i*per_group + j: (n, g, c/g) -> (n, c/g, g). */
    const gconv_fpenv team_fp = gconv_fpenv_current();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
        GCONV_FPENV_ADOPT(team_fp);
        GCONV_OMP("omp for schedule(static)")
        for (int64_t p = 0; p < planes; p++) {
            const int64_t n = p / in->c, oc = p % in->c;
            const int64_t ic = (oc % groups) * per_group + oc / groups;
            memcpy(y + p * hw, x + (n * in->c + ic) * hw, plane_bytes);
        }
    }
    (void)threads;
    return GCONV_OK;
}

gconv_status gconv_copy_channels(const gconv_tensor_shape *src_shape, const float *src, int64_t src_c0,
                                 int64_t count, int64_t dst_channels, float *dst, int64_t dst_c0,
                                 int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t src_count, dst_count;
    gconv_status st;
    if ((st = gconv_ops_check_shape(src_shape, "src", &src_count))) return st;
    if (count < 0) return gconv_fail(GCONV_EINVAL, "count must be non-negative, got %lld", (long long)count);
    if (src_c0 < 0 || src_c0 > src_shape->c - count)
        return gconv_fail(GCONV_EINVAL, "src_c0: channels [%lld, %lld + %lld) are outside the source's %lld",
                          (long long)src_c0, (long long)src_c0, (long long)count, (long long)src_shape->c);
    if (dst_channels < 0)
        return gconv_fail(GCONV_EINVAL, "dst_channels must be non-negative, got %lld", (long long)dst_channels);
    if (dst_c0 < 0 || dst_c0 > dst_channels - count)
        return gconv_fail(GCONV_EINVAL, "dst_c0: channels [%lld, %lld + %lld) are outside the destination's %lld",
                          (long long)dst_c0, (long long)dst_c0, (long long)count, (long long)dst_channels);
    const gconv_tensor_shape dst_shape = {src_shape->n, dst_channels, src_shape->h, src_shape->w};
    if ((st = gconv_ops_check_shape(&dst_shape, "dst", &dst_count))) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    const int64_t hw = src_shape->h * src_shape->w, run = count * hw; /* run <= src_count: no overflow */
    if (run == 0 || src_shape->n == 0) return GCONV_OK;
    if (!src || !dst) return gconv_fail(GCONV_EINVAL, "src and dst must not be NULL");
    /* One contiguous run of count*h*w floats per image, cut into chunks so that
     * batch 1 still splits over threads. */
    const int64_t chunks_per_image = (run + GCONV_OPS_CHUNK * 4 - 1) / (GCONV_OPS_CHUNK * 4);
    const int64_t chunk = (run + chunks_per_image - 1) / chunks_per_image;
    const int64_t items = src_shape->n * chunks_per_image;
    const int threads = gconv_ops_threads(num_threads, items, run * src_shape->n);
    const gconv_fpenv team_fp = gconv_fpenv_current();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
        GCONV_FPENV_ADOPT(team_fp);
        GCONV_OMP("omp for schedule(static)")
        for (int64_t item = 0; item < items; item++) {
            const int64_t n = item / chunks_per_image, begin = (item % chunks_per_image) * chunk;
            const int64_t len = gconv_ops_min_i64(chunk, run - begin);
            memcpy(dst + (n * dst_channels + dst_c0) * hw + begin, src + (n * src_shape->c + src_c0) * hw + begin,
                   (size_t)len * sizeof(float));
        }
    }
    (void)threads;
    return GCONV_OK;
}
