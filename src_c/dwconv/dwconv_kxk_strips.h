/* The pass loop of the f32-dwconv-KxKsS kernels (dwconv_kxk_avx2.h, dwconv_kxk_avx512.h): each
 * channel's plane in passes of up to DW_R output rows, every pass across the strips of a row.
 *
 * The includer defines DW_VEC (its vector type), DW_VSET1 (a broadcast), DW_TAPS_IN_REGS (1:
 * dw_block takes the K*K taps as vectors, broadcast here once per channel; 0: it broadcasts them
 * where it uses them, and ignores vt), DW_HAS_EDGE_STORE (whether the DW_EDGE_* modes include
 * DW_EDGE_STORE), DW_R, DW_V, DW_VR, DW_OPAQUE, the dw_ctx and dw_strip types and dw_block. */
#ifndef GCONV_DWCONV_KXK_STRIPS_H
#define GCONV_DWCONV_KXK_STRIPS_H

/* The most strips that one dw_strips call runs a pass of rows across (wider rows: in groups) */
#define DW_ROW_STRIPS_MAX 32

/* dw_block with the edge mode known only at run time: one specialized body per mode. */
DW_INLINE void dw_block_strip(const dw_strip *sp, const float *r, int64_t rs, int64_t d, const float *taps,
                              const DW_VEC *vt, DW_VEC vbias,
                              DW_VEC vmin, DW_VEC vmax, int clamped, float *o, int64_t os, const int R, int64_t nr,
                              const int checked, int64_t vlo, int64_t vhi) {
    /* (opaque here: else GCC keeps a pointer to every row and tap column of the pass for each
     * strip, stepping them all from strip to strip, and spills them) */
    DW_OPAQUE(r);
    DW_OPAQUE(o);
#define DW_BLOCK_EDGE(e) \
    dw_block(r, rs, d, taps, vt, vbias, vmin, vmax, clamped, o, os, R, nr, e, checked, vlo, vhi, sp->m, sp->ms)
    switch (sp->edge) {
    case DW_EDGE_NONE: DW_BLOCK_EDGE(DW_EDGE_NONE); break;
#if DW_HAS_EDGE_STORE
    case DW_EDGE_STORE: DW_BLOCK_EDGE(DW_EDGE_STORE); break;
#endif
    case DW_EDGE_LEFT: DW_BLOCK_EDGE(DW_EDGE_LEFT); break;
#if DW_S == 1
    case DW_EDGE_RIGHT: DW_BLOCK_EDGE(DW_EDGE_RIGHT); break;
#endif
    default: DW_BLOCK_EDGE(DW_EDGE_ALL); break;
    }
#undef DW_BLOCK_EDGE
}

/* All rows of [oy_begin, oy_end) of the strips sp[0..ns), for each channel of the context, a pass
 * of rows at a time: each pass runs across all ns strips before the next one starts. */
DW_NOINLINE void dw_strips(dw_ctx *c, const dw_strip *sp, int64_t ns) {
    const int64_t in_w = c->in_w, in_h = c->in_h, out_w = c->out_w, d = c->dil_w, step = c->ostep;
    const int64_t vpitch = c->vpitch, rs = vpitch * in_w, os = step * out_w;
    const DW_VEC vmin = DW_VSET1(c->cmin), vmax = DW_VSET1(c->cmax);
    /* The clamp costs 2 of the ~11 vector ops per output vector (AVX-512): skip it when there is none. */
    const int clamped = c->cmin != -INFINITY || c->cmax != INFINITY;
    const gconv_residue_rows residue_rows = gconv_rows_per_residue(c->oy_end - c->oy_begin, step);
    for (size_t ch = 0; ch < c->channels; ch++) {
        const float *in = c->in + (int64_t)ch * c->in_stride;
        float *out = c->out + (int64_t)ch * c->out_stride;
        const float *w = c->w + ch * (DW_K * DW_K + 1);
        DW_VEC vt[DW_K * DW_K];
#if DW_TAPS_IN_REGS
        for (int t = 0; t < DW_K * DW_K; t++) vt[t] = DW_VSET1(w[1 + t]);
#endif
        const DW_VEC vbias = DW_VSET1(w[0]);
        for (int64_t res = 0; res < step; res++) {
            const int64_t oy_first = c->oy_begin + res;
            if (oy_first >= c->oy_end) break;
            const int64_t rows = residue_rows.base + (res < residue_rows.extra);
            for (int64_t k = 0; k < rows; k += DW_R) {
                const int64_t oy = oy_first + k * step, nr = rows - k < DW_R ? rows - k : DW_R;
                float *orow = out + oy * out_w;
                /* Virtual rows v with 0 <= row0 + v * vpitch < in_h are inside the plane. */
                const int64_t row0 = oy * DW_S - c->pad_top;
                if (nr == DW_R && row0 >= 0 && row0 + (DW_V - 1) * vpitch < in_h) {
                    const float *r = in + row0 * in_w;
                    for (int64_t j = 0; j < ns; j++) {
                        if (c->pf.per_pass) dw_plane_prefetch_step(&c->pf);
                        dw_block_strip(&sp[j], r + sp[j].col0, rs, d, w + 1, vt, vbias, vmin, vmax, clamped,
                                       orow + sp[j].ox0, os, DW_R, DW_R, 0, 0, DW_V);
                    }
                    continue;
                }
                /* A short last pass: half the rows, half the work (e.g. 56 = 3 * 16 + 8). */
                const int half = nr <= DW_R / 2;
                const int64_t nv = half ? DW_VR(DW_R / 2) : DW_V;
                int64_t vlo, vhi;
                gconv_rows_inside(row0, vpitch, nv, in_h, &vlo, &vhi);
                for (int64_t j = 0; j < ns; j++) {
                    if (c->pf.per_pass) dw_plane_prefetch_step(&c->pf);
                    /* Only form a pointer into the plane when some row lands there. */
                    const float *r = vlo < vhi ? in + (row0 + vlo * vpitch) * in_w + sp[j].col0 : in;
                    if (half)
                        dw_block_strip(&sp[j], r, rs, d, w + 1, vt, vbias, vmin, vmax, clamped, orow + sp[j].ox0, os,
                                       DW_R / 2, nr, 1, vlo, vhi);
                    else
                        dw_block_strip(&sp[j], r, rs, d, w + 1, vt, vbias, vmin, vmax, clamped, orow + sp[j].ox0, os, DW_R,
                                       nr, 1, vlo, vhi);
                }
            }
        }
    }
}

#endif
