/* Element-wise binary operators with NumPy broadcasting over the 4 dims, and
 * an optional ReLU/ReLU6 after (ResNet's residual add + ReLU in one pass).
 *
 * Broadcasting is reduced to at most 4 loops: dims of extent 1 are dropped and
 * neighbouring dims where a and b are each either full or broadcast in the
 * same way are merged, so (1,C,H,W) + (1,C,1,1) becomes C rows of H*W against
 * one scalar each and same-shape operands become one flat loop. The innermost
 * loop is vector-vector, scalar-vector or vector-scalar, all unit stride
 * (eltwise_loops.h; y may be a or b). */
#include "ops_internal.h"

/* One merged loop level: extent, and each operand's stride (0 = broadcast). */
typedef struct {
    int64_t extent, a_stride, b_stride;
} loop_dim;

static const char *const DIM_NAMES[4] = {"n", "c", "h", "w"};

typedef struct {
    loop_dim dims[4];
    int64_t blocks, block;
    const float *a, *b;
    float *y;
    const gconv_eltwise_loops *L;
    gconv_binary_kind kind;
    gconv_unary_kind activation; /* identity, relu or relu6 */
} binary_loop;

static void binary_share(const void *ctx, int64_t first, int64_t last, int tid) {
    const binary_loop *l = ctx;
    const loop_dim *dims = l->dims;
    const gconv_binary_vv_fn vv = l->L->vv[l->kind];
    const gconv_binary_sv_fn sv = l->L->sv[l->kind];
    const gconv_binary_vs_fn vs = l->L->vs[l->kind];
    const int fused = l->activation != GCONV_UNARY_IDENTITY;
    const float lo = 0.0f, hi = l->activation == GCONV_UNARY_RELU6 ? 6.0f : INFINITY;
    const int64_t inner = dims[0].extent;
    const int a_vec = dims[0].a_stride != 0, b_vec = dims[0].b_stride != 0;
    (void)tid;
    for (int64_t item = first; item < last; item++) {
        const int64_t o = item / l->blocks, begin = (item % l->blocks) * l->block;
        const int64_t n = gconv_ops_min_i64(l->block, inner - begin);
        const int64_t i1 = o % dims[1].extent, i2 = (o / dims[1].extent) % dims[2].extent;
        const int64_t i3 = o / (dims[1].extent * dims[2].extent);
        const int64_t a_off = i1 * dims[1].a_stride + i2 * dims[2].a_stride + i3 * dims[3].a_stride +
                              (a_vec ? begin : 0);
        const int64_t b_off = i1 * dims[1].b_stride + i2 * dims[2].b_stride + i3 * dims[3].b_stride +
                              (b_vec ? begin : 0);
        float *yb = l->y + o * inner + begin;
        if (a_vec && b_vec)
            vv(l->a + a_off, l->b + b_off, yb, n);
        else if (b_vec)
            sv(l->a[a_off], l->b + b_off, yb, n);
        else /* a vector against a scalar, or one element (a and b both scalars) */
            vs(l->a + a_off, l->b[b_off], yb, n);
        if (fused) l->L->clamp(yb, n, lo, hi);
    }
}

gconv_status gconv_binary(gconv_binary_kind kind, const gconv_tensor_shape *a_shape, const float *a,
                          const gconv_tensor_shape *b_shape, const float *b, const gconv_tensor_shape *y_shape,
                          float *y, gconv_unary_kind activation, int num_threads) {
    GCONV_FPENV_SCOPE();
    int64_t a_count, b_count, y_count;
    gconv_status st;
    if ((unsigned)kind >= GCONV_BINARY_COUNT)
        return gconv_fail(GCONV_EINVAL, "kind: unknown binary kind %d", (int)kind);
    if (activation != GCONV_UNARY_IDENTITY && activation != GCONV_UNARY_RELU && activation != GCONV_UNARY_RELU6)
        return gconv_fail(GCONV_EINVAL, "activation: a binary op fuses only identity, relu or relu6, got %d",
                          (int)activation);
    if ((st = gconv_ops_check_shape(a_shape, "a", &a_count))) return st;
    if ((st = gconv_ops_check_shape(b_shape, "b", &b_count))) return st;
    if ((st = gconv_ops_check_shape(y_shape, "y", &y_count))) return st;
    if (num_threads < 1) return gconv_fail(GCONV_EINVAL, "num_threads must be positive, got %d", num_threads);
    const int64_t ad[4] = {a_shape->n, a_shape->c, a_shape->h, a_shape->w};
    const int64_t bd[4] = {b_shape->n, b_shape->c, b_shape->h, b_shape->w};
    const int64_t yd[4] = {y_shape->n, y_shape->c, y_shape->h, y_shape->w};
    for (int i = 0; i < 4; i++) {
        if (ad[i] != yd[i] && ad[i] != 1)
            return gconv_fail(GCONV_EINVAL, "a: dim %s is %lld, must be 1 or y's %lld", DIM_NAMES[i], (long long)ad[i],
                              (long long)yd[i]);
        if (bd[i] != yd[i] && bd[i] != 1)
            return gconv_fail(GCONV_EINVAL, "b: dim %s is %lld, must be 1 or y's %lld", DIM_NAMES[i], (long long)bd[i],
                              (long long)yd[i]);
        if (yd[i] != (ad[i] == 1 ? bd[i] : ad[i]))
            return gconv_fail(GCONV_EINVAL, "y: dim %s is %lld, but a and b broadcast to %lld", DIM_NAMES[i],
                              (long long)yd[i], (long long)(ad[i] == 1 ? bd[i] : ad[i]));
    }
    if (y_count == 0) return GCONV_OK;
    if (!a || !b || !y) return gconv_fail(GCONV_EINVAL, "a, b and y must not be NULL");
    if ((y == a && a_count != y_count) || (y == b && b_count != y_count))
        return gconv_fail(GCONV_EINVAL, "y: may alias a or b only when that operand has y's shape");

    /* Merge dims, innermost first. */
    loop_dim dims[4];
    int ndims = 0;
    int64_t a_run = 1, b_run = 1; /* each operand's contiguous stride at the current dim */
    for (int i = 3; i >= 0; i--) {
        if (yd[i] == 1) continue; /* then a and b are 1 there too */
        const int64_t as = ad[i] == 1 ? 0 : a_run, bs = bd[i] == 1 ? 0 : b_run;
        loop_dim *last = ndims ? &dims[ndims - 1] : NULL;
        if (last && (last->a_stride == 0) == (as == 0) && (last->b_stride == 0) == (bs == 0)) {
            last->extent *= yd[i]; /* fits: bounded by y_count */
        } else {
            dims[ndims++] = (loop_dim){yd[i], as, bs};
        }
        a_run *= ad[i];
        b_run *= bd[i];
    }
    if (ndims == 0) dims[ndims++] = (loop_dim){1, 0, 0}; /* a single element */
    for (int i = ndims; i < 4; i++) dims[i] = (loop_dim){1, 0, 0};

    /* Work items: blocks of the innermost loop times the outer iterations. */
    const int64_t inner = dims[0].extent;
    const int64_t blocks = (inner + GCONV_OPS_CHUNK - 1) / GCONV_OPS_CHUNK;
    const int64_t block = (inner + blocks - 1) / blocks;
    const int64_t outer = dims[1].extent * dims[2].extent * dims[3].extent;
    const int64_t items = outer * blocks;
    const int threads = gconv_ops_threads(num_threads, items, y_count);
    const binary_loop bl = {{dims[0], dims[1], dims[2], dims[3]}, blocks, block, a, b, y, gconv_ops_eltwise_loops(),
                            kind, activation};
    gconv_parallel_for(threads, items, binary_share, &bl);
    return GCONV_OK;
}
