/* embed.c — embedding bags (per-field or shared hashed tables, weighted sum
 * pooling, first-order weights in the same row) and the set of rows a
 * mini-batch touches (see nn/nn.h). */
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

void nn_embed_fwd(const nn_emb *L, const float *T, int B, const uint32_t *rows,
                  const uint32_t *row_ptr, const uint32_t *idx, const float *val,
                  const uint16_t *field, float *out, int ld, float *wide) {
    const nn_emb_field *F = L->f;
    for (int r = 0; r < B; r++) {
        uint32_t br = rows ? rows[r] : (uint32_t)r;
        float *o = out + (size_t)r * ld, w = 0.f;
        memset(o, 0, (size_t)ld * sizeof *o);
        uint32_t a = row_ptr[br], e = row_ptr[br + 1];
        /* the next entries' rows are random cache lines of a large table */
        for (uint32_t k = a; k < e && k < a + 8; k++) {
            const nn_emb_field *f = &F[field[k]];
            __builtin_prefetch(T + f->base + (size_t)(idx[k] - f->offset) * f->stride);
        }
        for (uint32_t k = a; k < e; k++) {
            if (k + 8 < e) {
                const nn_emb_field *f = &F[field[k + 8]];
                __builtin_prefetch(T + f->base + (size_t)(idx[k + 8] - f->offset) * f->stride);
            }
            const nn_emb_field *f = &F[field[k]];
            if (f->stride == 0) {
                if (f->dcol >= 0) o[f->dcol + (int)(idx[k] - f->offset)] += val[k];
                continue;
            }
            const float *t = T + f->base + (size_t)(idx[k] - f->offset) * f->stride;
            float v = val[k];
            if (f->dcol >= 0) o[f->dcol + (int)(idx[k] - f->offset)] += v;
            float *dst = o + f->col;
            for (int j = 0; j < f->dim; j++)
                dst[j] += v * t[j];
            if (L->wide) w += v * t[f->dim];
        }
        if (wide) wide[r] = w;
    }
}

void nn_embed_bwd_dense(const nn_emb *L, int B, const uint32_t *rows, const uint32_t *row_ptr,
                        const uint32_t *idx, const float *val, const uint16_t *field,
                        const float *dout, int ld, const float *dwide, float *dT) {
    const nn_emb_field *F = L->f;
    for (int r = 0; r < B; r++) {
        uint32_t br = rows ? rows[r] : (uint32_t)r;
        const float *d = dout + (size_t)r * ld;
        for (uint32_t k = row_ptr[br]; k < row_ptr[br + 1]; k++) {
            const nn_emb_field *f = &F[field[k]];
            if (f->stride == 0) continue;
            float *g = dT + f->base + (size_t)(idx[k] - f->offset) * f->stride, v = val[k];
            for (int j = 0; j < f->dim; j++)
                g[j] += v * d[f->col + j];
            if (L->wide && dwide) g[f->dim] += v * dwide[r];
        }
    }
}

#define RS_EMPTY UINT32_MAX

int nn_rowset_init(nn_rowset *s, size_t max_keys) {
    memset(s, 0, sizeof *s);
    size_t cap = 16;
    int bits = 4;
    while (cap < 2 * max_keys) {
        cap <<= 1;
        bits++;
    }
    s->keys = malloc(cap * sizeof *s->keys);
    s->slot = malloc(cap * sizeof *s->slot);
    s->key_of = malloc((max_keys ? max_keys : 1) * sizeof *s->key_of);
    s->pos_of = malloc((max_keys ? max_keys : 1) * sizeof *s->pos_of);
    if (!s->keys || !s->slot || !s->key_of || !s->pos_of) {
        nn_rowset_free(s);
        return -1;
    }
    memset(s->keys, 0xff, cap * sizeof *s->keys);
    s->cap = cap;
    s->shift = 32 - bits;
    s->max_keys = max_keys;
    return 0;
}

void nn_rowset_free(nn_rowset *s) {
    free(s->keys);
    free(s->slot);
    free(s->key_of);
    free(s->pos_of);
    memset(s, 0, sizeof *s);
}

void nn_rowset_clear(nn_rowset *s) {
    for (size_t i = 0; i < s->n; i++)
        s->keys[s->pos_of[i]] = RS_EMPTY;
    s->n = 0;
}

static inline size_t rs_home(const nn_rowset *s, uint32_t key) {
    return (size_t)((key * 0x9E3779B1u) >> s->shift);
}

int32_t nn_rowset_insert(nn_rowset *s, uint32_t key) {
    if (key == RS_EMPTY) return -1;
    size_t m = s->cap - 1;
    for (size_t p = rs_home(s, key);; p = (p + 1) & m) {
        uint32_t k = s->keys[p];
        if (k == key) return s->slot[p];
        if (k == RS_EMPTY) {
            if (s->n >= s->max_keys) return -1;
            int32_t sl = (int32_t)s->n++;
            s->keys[p] = key;
            s->slot[p] = sl;
            s->key_of[sl] = key;
            s->pos_of[sl] = (uint32_t)p;
            return sl;
        }
    }
}

int32_t nn_rowset_find(const nn_rowset *s, uint32_t key) {
    if (key == RS_EMPTY || !s->cap) return -1;
    size_t m = s->cap - 1;
    for (size_t p = rs_home(s, key);; p = (p + 1) & m) {
        uint32_t k = s->keys[p];
        if (k == key) return s->slot[p];
        if (k == RS_EMPTY) return -1;
    }
}
