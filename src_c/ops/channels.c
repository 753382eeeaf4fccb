/* Channel-wise data movement: ShuffleNet's channel shuffle, and the channel
 * copies that Concat and Split are made of. Both are whole-plane memcpys. */
#include "ops_internal.h"

#include <string.h>

typedef struct {
    const float *x;
    float *y;
    int64_t channels, groups, per_group, hw;
    size_t plane_bytes;
} shuffle_loop;

/* Output channel j*groups + i is input channel i*per_group + j: (n, g, c/g) -> (n, c/g, g). */
static void shuffle_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const shuffle_loop *l = ctx;
    (void)tid;
    for (int64_t p = begin; p < end; p++) {
        const int64_t n = p / l->channels, oc = p % l->channels;
        const int64_t ic = (oc % l->groups) * l->per_group + oc / l->groups;
        memcpy(l->y + p * l->hw, l->x + (n * l->channels + ic) * l->hw, l->plane_bytes);
    }
}

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
    const shuffle_loop sl = {x, y, in->c, groups, per_group, hw, plane_bytes};
    gconv_parallel_for(threads, planes, shuffle_share, &sl);
    return GCONV_OK;
}

typedef struct {
    const float *src;
    float *dst;
    int64_t src_channels, src_c0, dst_channels, dst_c0, hw, run, chunks_per_image, chunk;
} copy_loop;

static void copy_share(const void *ctx, int64_t begin, int64_t end, int tid) {
    const copy_loop *l = ctx;
    (void)tid;
    for (int64_t item = begin; item < end; item++) {
        const int64_t n = item / l->chunks_per_image, first = (item % l->chunks_per_image) * l->chunk;
        const int64_t len = gconv_ops_min_i64(l->chunk, l->run - first);
        memcpy(l->dst + (n * l->dst_channels + l->dst_c0) * l->hw + first,
               l->src + (n * l->src_channels + l->src_c0) * l->hw + first, (size_t)len * sizeof(float));
    }
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
    const copy_loop cl = {src, dst, src_shape->c, src_c0, dst_channels, dst_c0, hw, run, chunks_per_image, chunk};
    gconv_parallel_for(threads, items, copy_share, &cl);
    return GCONV_OK;
}
