/* transform_fit.c — the analyze pass: fits a spec's statistics on a dataset.
 *
 * Pass p fits, in every feature, its first stateful op not yet fitted, on
 * values run through the (already fitted) ops before it; most specs need one
 * pass. Each thread keeps its own accumulators over the row groups it reads;
 * they are merged at the end of the pass, then (MPI) serialised, exchanged
 * through leap_comm_bcast and merged in rank order, so every rank ends with
 * the same state. Accumulators: exact counts (open-addressing map) or
 * Space-Saving for vocabularies, Space-Saving for modes, KLL for quantiles,
 * Welford/Chan moments for standardize. */
#include "features/transform_internal.h"

#include <stdlib.h>
#include <string.h>

#include "leap/sketch.h"

/* ---- exact counts: open addressing over nonzero 64-bit keys ---------------- */
typedef struct cmap {
    uint64_t *key, *cnt;
    size_t cap, n; /* cap a power of two */
} cmap;

static void cmap_free(cmap *m) {
    free(m->key);
    free(m->cnt);
    memset(m, 0, sizeof *m);
}

static int cmap_grow(cmap *m) {
    size_t nc = m->cap ? 2 * m->cap : 1024;
    uint64_t *k = calloc(nc, sizeof *k), *c = calloc(nc, sizeof *c);
    if (!k || !c) {
        free(k);
        free(c);
        return LEAP_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->key[i]) continue;
        size_t j = leap_mix64(m->key[i], 0x636d6170ULL) & (nc - 1);
        while (k[j])
            j = (j + 1) & (nc - 1);
        k[j] = m->key[i];
        c[j] = m->cnt[i];
    }
    free(m->key);
    free(m->cnt);
    m->key = k;
    m->cnt = c;
    m->cap = nc;
    return LEAP_OK;
}

static int cmap_add(cmap *m, uint64_t key, uint64_t n) {
    if (2 * (m->n + 1) > m->cap && cmap_grow(m)) return LEAP_ENOMEM;
    size_t j = leap_mix64(key, 0x636d6170ULL) & (m->cap - 1);
    while (m->key[j] && m->key[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->key[j]) {
        m->key[j] = key;
        m->n++;
    }
    m->cnt[j] += n;
    return LEAP_OK;
}

/* ---- accumulators ---------------------------------------------------------- */
typedef struct acc {
    int active;       /* this field fits an op in this pass */
    int op;           /* index of that op */
    leap_kll *kll;    /* bucketize: quantiles */
    leap_topk *topk;  /* fill_missing: mode; vocabulary: approx */
    cmap counts;      /* vocabulary: exact */
    leap_moments mom; /* standardize */
    int failed;       /* out of memory while adding */
} acc;

static void acc_free(acc *a) {
    if (a->kll) leap_kll_destroy(a->kll);
    if (a->topk) leap_topk_destroy(a->topk);
    cmap_free(&a->counts);
    memset(a, 0, sizeof *a);
}

#define MODE_CAPACITY 4096

static int acc_init(acc *a, const leap_tf_op *op, int opi, uint64_t seed) {
    memset(a, 0, sizeof *a);
    a->active = 1;
    a->op = opi;
    leap_moments_init(&a->mom);
    switch (op->kind) {
    case LEAP_TF_BUCKETIZE: return leap_kll_create(op->sketch_k, seed, &a->kll);
    case LEAP_TF_FILL_MISSING: return leap_topk_create(MODE_CAPACITY, &a->topk);
    case LEAP_TF_VOCABULARY: return op->approx ? leap_topk_create(op->capacity, &a->topk) : 0;
    default: return LEAP_OK;
    }
}

/* Adds one (pre-processed) value: numeric x, or token (0 = missing). */
static inline void acc_add_num(acc *a, const leap_tf_op *op, double x) {
    if (isnan(x)) return;
    switch (op->kind) {
    case LEAP_TF_BUCKETIZE: leap_kll_add(a->kll, x); break;
    case LEAP_TF_STANDARDIZE: leap_moments_add(&a->mom, x); break;
    case LEAP_TF_FILL_MISSING: leap_topk_add(a->topk, leap__tf_num_token(x), 1.0); break;
    case LEAP_TF_VOCABULARY:
        if (a->topk)
            leap_topk_add(a->topk, leap__tf_num_token(x), 1.0);
        else if (cmap_add(&a->counts, leap__tf_num_token(x), 1))
            a->failed = 1;
        break;
    default: break;
    }
}

static inline void acc_add_tok(acc *a, uint64_t tok) {
    if (!tok) return;
    if (a->topk)
        leap_topk_add(a->topk, tok, 1.0);
    else if (cmap_add(&a->counts, tok, 1))
        a->failed = 1;
}

static int acc_merge(acc *into, const acc *from) {
    if (into->failed || from->failed) return LEAP_ENOMEM;
    if (into->kll && leap_kll_merge(into->kll, from->kll)) return LEAP_ENOMEM;
    if (into->topk && leap_topk_merge(into->topk, from->topk)) return LEAP_ENOMEM;
    leap_moments_merge(&into->mom, &from->mom);
    for (size_t i = 0; i < from->counts.cap; i++)
        if (from->counts.key[i] &&
            cmap_add(&into->counts, from->counts.key[i], from->counts.cnt[i]))
            return LEAP_ENOMEM;
    return LEAP_OK;
}

/* Serialised accumulator: u8 parts, then moments (5 f64), kll (u64 len +
 * bytes), topk (u64 n + n x (u64 key, f64 count)), counts (u64 n + pairs). */
static int acc_write(const acc *a, leap_buf *out) {
    uint8_t t[16];
    int rc = 0;
    double mv[5] = {a->mom.n, a->mom.mean, a->mom.m2, a->mom.min, a->mom.max};
    for (int i = 0; i < 5; i++) {
        uint64_t u;
        memcpy(&u, &mv[i], 8);
        leap_put_u64(t, u);
        rc |= leap_buf_append(out, t, 8);
    }
    leap_buf k = {0};
    if (a->kll && leap_kll_write(a->kll, &k)) return LEAP_ENOMEM;
    leap_put_u64(t, k.len);
    rc |= leap_buf_append(out, t, 8);
    if (k.len) rc |= leap_buf_append(out, k.p, k.len);
    leap_buf_free(&k);
    size_t n = 0;
    leap_topk_item *items = NULL;
    if (a->topk) {
        size_t cap = 1024;
        for (;;) {
            items = malloc(cap * sizeof *items);
            if (!items) return LEAP_ENOMEM;
            n = leap_topk_items(a->topk, items, cap);
            if (n < cap) break;
            free(items);
            cap *= 4;
        }
    }
    leap_put_u64(t, n);
    rc |= leap_buf_append(out, t, 8);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &items[i].count, 8);
        leap_put_u64(t, items[i].key);
        leap_put_u64(t + 8, u);
        rc |= leap_buf_append(out, t, 16);
    }
    free(items);
    leap_put_u64(t, a->counts.n);
    rc |= leap_buf_append(out, t, 8);
    for (size_t i = 0; i < a->counts.cap; i++)
        if (a->counts.key[i]) {
            leap_put_u64(t, a->counts.key[i]);
            leap_put_u64(t + 8, a->counts.cnt[i]);
            rc |= leap_buf_append(out, t, 16);
        }
    return rc ? LEAP_ENOMEM : LEAP_OK;
}

/* Merges a serialised accumulator (from acc_write) into a; returns bytes
 * consumed, or 0 on a malformed buffer. */
static size_t acc_read_merge(acc *a, const uint8_t *p, size_t len) {
    size_t o = 0;
    if (len < 48) return 0;
    double mv[5];
    for (int i = 0; i < 5; i++) {
        uint64_t u = leap_get_u64(p + 8 * i);
        memcpy(&mv[i], &u, 8);
    }
    o = 40;
    leap_moments m = {mv[0], mv[1], mv[2], mv[3], mv[4]};
    leap_moments_merge(&a->mom, &m);
    uint64_t kl = leap_get_u64(p + o);
    o += 8;
    if (kl > len - o) return 0;
    if (kl) {
        leap_kll *k;
        if (!a->kll || leap_kll_read(p + o, kl, &k, NULL)) return 0;
        int rc = leap_kll_merge(a->kll, k);
        leap_kll_destroy(k);
        if (rc) return 0;
    }
    o += kl;
    if (len - o < 8) return 0;
    uint64_t n = leap_get_u64(p + o);
    o += 8;
    if (n > (len - o) / 16) return 0;
    for (uint64_t i = 0; i < n; i++, o += 16) {
        uint64_t u = leap_get_u64(p + o + 8);
        double c;
        memcpy(&c, &u, 8);
        if (a->topk) leap_topk_add(a->topk, leap_get_u64(p + o), c);
    }
    if (len - o < 8) return 0;
    n = leap_get_u64(p + o);
    o += 8;
    if (n > (len - o) / 16) return 0;
    for (uint64_t i = 0; i < n; i++, o += 16)
        if (cmap_add(&a->counts, leap_get_u64(p + o), leap_get_u64(p + o + 8))) return 0;
    return o;
}

/* ---- vocabulary ------------------------------------------------------------ */
typedef struct kc {
    uint64_t key, cnt;
} kc;

static int kc_cmp(const void *a, const void *b) {
    const kc *x = a, *y = b;
    if (x->cnt != y->cnt) return x->cnt > y->cnt ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

int leap__tf_vocab_index(leap_tf_vocab *v) {
    free(v->tkey);
    free(v->tval);
    v->tkey = NULL;
    v->tval = NULL;
    uint32_t cap = 16;
    while (cap < 2 * (uint64_t)v->n + 2)
        cap *= 2;
    v->tkey = calloc(cap, sizeof *v->tkey);
    v->tval = calloc(cap, sizeof *v->tval);
    if (!v->tkey || !v->tval) return LEAP_ENOMEM;
    v->mask = cap - 1;
    for (uint32_t e = 0; e < v->n; e++) {
        uint64_t h = v->keys[e];
        if (!h) return LEAP_ECORRUPT;
        uint32_t i = (uint32_t)leap_mix64(h, 0x766f63ULL) & v->mask;
        while (v->tkey[i]) {
            if (v->tkey[i] == h) return LEAP_ECORRUPT; /* duplicate entry */
            i = (i + 1) & v->mask;
        }
        v->tkey[i] = h;
        v->tval[i] = e;
    }
    return LEAP_OK;
}

static int vocab_finish(leap_tf_op *op, const acc *a) {
    size_t n = 0;
    kc *e = NULL;
    if (a->topk) {
        size_t cap = op->capacity;
        leap_topk_item *it = malloc((cap ? cap : 1) * sizeof *it);
        e = malloc((cap ? cap : 1) * sizeof *e);
        if (!it || !e) {
            free(it);
            free(e);
            return LEAP_ENOMEM;
        }
        size_t m = leap_topk_items(a->topk, it, cap);
        for (size_t i = 0; i < m; i++)
            if (it[i].count >= (double)op->min_count)
                e[n++] = (kc){it[i].key, (uint64_t)(it[i].count + 0.5)};
        free(it);
    } else {
        e = malloc((a->counts.n ? a->counts.n : 1) * sizeof *e);
        if (!e) return LEAP_ENOMEM;
        for (size_t i = 0; i < a->counts.cap; i++)
            if (a->counts.key[i] && a->counts.cnt[i] >= op->min_count)
                e[n++] = (kc){a->counts.key[i], a->counts.cnt[i]};
    }
    qsort(e, n, sizeof *e, kc_cmp);
    if (op->top_k && n > op->top_k) n = op->top_k;
    if (n > (1u << 28)) n = 1u << 28;
    leap_tf_vocab *v = &op->vocab;
    v->n = (uint32_t)n;
    v->keys = malloc((n ? n : 1) * sizeof *v->keys);
    v->count = malloc((n ? n : 1) * sizeof *v->count);
    if (!v->keys || !v->count) {
        free(e);
        return LEAP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v->keys[i] = e[i].key;
        v->count[i] = e[i].cnt;
    }
    free(e);
    return leap__tf_vocab_index(v);
}

static int op_finish(leap_tf_op *op, const acc *a, int numeric) {
    switch (op->kind) {
    case LEAP_TF_STANDARDIZE: {
        double var = leap_moments_var(&a->mom);
        op->mean = a->mom.n > 0 ? a->mom.mean : 0.0;
        op->std = var > 0 ? sqrt(var) : 1.0;
        break;
    }
    case LEAP_TF_FILL_MISSING: {
        leap_topk_item it;
        if (leap_topk_items(a->topk, &it, 1) == 1) {
            if (numeric) {
                uint32_t b = (uint32_t)(it.key - 1);
                float f;
                memcpy(&f, &b, sizeof f);
                op->fill_num = f;
            } else {
                op->fill_cat = it.key;
            }
        } else { /* nothing seen: missing stays missing */
            op->fill_num = NAN;
            op->fill_cat = 0;
        }
        break;
    }
    case LEAP_TF_BUCKETIZE: {
        uint32_t K = op->quantiles;
        op->bounds = malloc(K * sizeof *op->bounds);
        if (!op->bounds) return LEAP_ENOMEM;
        op->n_bounds = 0;
        if (leap_kll_count(a->kll) > 0) {
            /* ranks j / K for j = 1..K-1, answered in place */
            for (uint32_t j = 1; j < K; j++)
                op->bounds[j - 1] = (double)j / K;
            if (leap_kll_quantiles(a->kll, op->bounds, K - 1, op->bounds)) return LEAP_ENOMEM;
            for (uint32_t j = 0; j + 1 < K; j++) {
                double q = op->bounds[j];
                if (op->n_bounds == 0 || q > op->bounds[op->n_bounds - 1])
                    op->bounds[op->n_bounds++] = q;
            }
            op->rank_error = leap_kll_error_bound(a->kll);
        }
        break;
    }
    case LEAP_TF_VOCABULARY: {
        int rc = vocab_finish(op, a);
        if (rc) return rc;
        break;
    }
    default: break;
    }
    op->fitted = 1;
    return LEAP_OK;
}

/* ---- the pass -------------------------------------------------------------- */
typedef struct fit_run {
    leap_tf_spec *s;
    leap_dataset *ds;
    const size_t *groups;
    size_t n_groups, n_chunks;
    int *col; /* [n_fields] source column of each feature (non-cross) */
    /* Accumulators, [slot][n_fields]: slots [0, n_chunks) per chunk of row
     * groups (order-sensitive sketches: merged in chunk order, so the fitted
     * state does not depend on thread timing or count), then one slot per
     * thread (exact vocabulary counts, order-free), then one for the ranks'
     * merged state. */
    acc *acc;
    leap_rowgroup *rg; /* [threads] */
    leap_err errs[64];
} fit_run;

static int fit_group(fit_run *F, size_t g, size_t chunk, int thread) {
    leap_tf_spec *s = F->s;
    leap_rowgroup *rg = &F->rg[thread];
    int rc = leap_dataset_read_row_group(F->ds, g, rg, &F->errs[thread % 64]);
    if (rc) return rc;
    acc *Ac = F->acc + chunk * s->n_fields;
    acc *At = F->acc + (F->n_chunks + (size_t)thread) * s->n_fields;
    size_t n = rg->n_rows;
    for (size_t i = 0; i < s->n_fields; i++) {
        if (!Ac[i].active) continue;
        const leap_tf_op *fop = &s->fields[i].ops[Ac[i].op];
        acc *a = fop->kind == LEAP_TF_VOCABULARY && !fop->approx ? &At[i] : &Ac[i];
        const leap_tf_field *f = &s->fields[i];
        const leap_tf_op *op = &f->ops[a->op];
        const leap_column *c = &rg->cols[F->col[i]];
        switch (f->src_type[0]) {
        case LEAP_COL_NUMERIC:
            for (size_t r = 0; r < n; r++)
                acc_add_num(a, op, leap__tf_num(f, a->op, (double)c->f32[r]));
            break;
        case LEAP_COL_CATEGORICAL:
            for (size_t r = 0; r < n; r++)
                acc_add_tok(a, leap__tf_cat(f, a->op, c->u64[r]));
            break;
        case LEAP_COL_MULTI_CATEGORICAL:
            for (size_t r = 0; r < n; r++) {
                uint32_t b = c->offsets[r], e = c->offsets[r + 1];
                if (b == e) acc_add_tok(a, leap__tf_cat(f, a->op, 0));
                for (uint32_t j = b; j < e; j++)
                    acc_add_tok(a, c->u64[j]);
            }
            break;
        default: break;
        }
    }
    return 0;
}

static int fit_task(void *vctx, size_t task, int thread) {
    fit_run *F = vctx;
    size_t a = task * F->n_groups / F->n_chunks, e = (task + 1) * F->n_groups / F->n_chunks;
    for (size_t k = a; k < e; k++) {
        int rc = fit_group(F, F->groups[k], task, thread);
        if (rc) return rc;
    }
    return 0;
}

/* Exchanges every rank's serialised accumulators; merges them all, in rank
 * order, into fresh accumulators `out` (same init as `proto`). */
static int exchange(leap_comm *comm, const leap_tf_spec *s, acc *mine, acc *out, leap_err *err) {
    int size = leap_comm_size(comm), rank = leap_comm_rank(comm);
    leap_buf b = {0};
    int rc = LEAP_OK;
    for (size_t i = 0; i < s->n_fields; i++)
        if (mine[i].active && (rc = acc_write(&mine[i], &b)))
            return leap_err_set(err, rc, "transform fit: out of memory");
    for (int r = 0; r < size && !rc; r++) {
        uint64_t len = r == rank ? b.len : 0;
        if ((rc = leap_comm_bcast(comm, &len, sizeof len, r, err))) break;
        uint8_t *p = r == rank ? b.p : malloc(len ? len : 1);
        if (!p) {
            rc = leap_err_set(err, LEAP_ENOMEM, "transform fit: out of memory");
            leap_comm_abort(comm, 1);
            break;
        }
        if (len && (rc = leap_comm_bcast(comm, p, len, r, err))) {
            if (r != rank) free(p);
            break;
        }
        size_t o = 0;
        for (size_t i = 0; i < s->n_fields && !rc; i++) {
            if (!out[i].active) continue;
            size_t used = acc_read_merge(&out[i], p + o, len - o);
            if (!used)
                rc = leap_err_set(err, LEAP_ECOMM, "transform fit: bad state from rank %d", r);
            o += used;
        }
        if (r != rank) free(p);
    }
    leap_buf_free(&b);
    return rc;
}

int leap_transform_fit(leap_tf_spec *s, leap_dataset *ds, int threads, leap_comm *comm,
                       leap_featurizer *fz, leap_tf_fit_report *rep, leap_err *err) {
    memset(fz, 0, sizeof *fz);
    leap_tf_fit_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    const leap_schema *schema = leap_dataset_schema(ds);
    int rc = leap_tf_spec_resolve(s, schema, leap_dataset_path(ds), err);
    if (rc) {
        leap_tf_spec_free(s);
        return rc;
    }
    if (!s->label[0]) {
        int c = leap_schema_find_type(schema, LEAP_COL_LABEL);
        if (c >= 0) snprintf(s->label, sizeof s->label, "%s", schema->cols[c].name);
    }
    if (!s->weight[0]) {
        int c = leap_schema_find_type(schema, LEAP_COL_WEIGHT);
        if (c >= 0) snprintf(s->weight, sizeof s->weight, "%s", schema->cols[c].name);
    }
    if (threads < 1) threads = 1;
    size_t F = s->n_fields;
    fit_run R;
    memset(&R, 0, sizeof R);
    R.s = s;
    R.ds = ds;
    R.col = calloc(F, sizeof *R.col);
    R.rg = calloc((size_t)threads, sizeof *R.rg);
    int size = leap_comm_size(comm), rank = leap_comm_rank(comm);
    size_t G = leap_dataset_num_row_groups(ds), n_mine = 0;
    size_t *groups = malloc((G ? G : 1) * sizeof *groups);
    for (size_t g = (size_t)rank; g < G; g += (size_t)size)
        n_mine++;
    R.n_groups = n_mine;
    R.n_chunks = n_mine < 32 ? (n_mine ? n_mine : 1) : 32;
    const size_t NS = R.n_chunks + (size_t)threads + 1; /* accumulator slots */
    R.acc = calloc(NS * F, sizeof *R.acc);
    n_mine = 0;
    if (!R.col || !R.acc || !R.rg || !groups) {
        rc = leap_err_set(err, LEAP_ENOMEM, "transform fit: out of memory");
        goto done;
    }
    for (size_t g = (size_t)rank; g < G; g += (size_t)size)
        groups[n_mine++] = g;
    R.groups = groups;
    for (int t = 0; t < threads; t++)
        if ((rc = leap_rowgroup_init(&R.rg[t], schema))) {
            rc = leap_err_set(err, rc, "transform fit: out of memory");
            goto done;
        }
    for (size_t i = 0; i < F; i++)
        R.col[i] = s->fields[i].cross ? -1 : leap_schema_find(schema, s->fields[i].src[0]);
    double t0 = leap_now();
    uint64_t rows = leap_dataset_num_rows(ds);
    for (;;) {
        /* The ops this pass fits: each feature's first unfitted stateful op. */
        int any = 0;
        for (size_t i = 0; i < F; i++) {
            leap_tf_field *f = &s->fields[i];
            int opi = -1;
            for (int j = 0; j < f->n_ops && !f->cross; j++)
                if (leap__tf_is_stateful(&f->ops[j]) && !f->ops[j].fitted) {
                    opi = j;
                    break;
                }
            if (opi < 0) continue;
            any = 1;
            for (size_t t = 0; t < NS; t++) {
                acc *a = &R.acc[t * F + i];
                /* the same seed everywhere: sketches merge deterministically */
                if (acc_init(a, &f->ops[opi], opi, leap_mix64(0x6b6c6cULL, i)) != 0) {
                    rc = leap_err_set(err, LEAP_ENOMEM, "transform fit: out of memory");
                    goto done;
                }
            }
        }
        if (!any) break;
        rep->passes++;
        rc = leap_parallel_for(threads, R.n_chunks, fit_task, &R);
        if (rc) {
            for (int t = 0; t < threads && t < 64; t++)
                if (R.errs[t].status) {
                    if (err) *err = R.errs[t];
                    break;
                }
            if (!err || !err->status) leap_err_set(err, rc, "transform fit: %s", leap_strerror(rc));
            goto done;
        }
        /* Merge chunks (in order), then threads, into chunk 0's accumulators. */
        for (size_t t = 1; t < NS - 1; t++)
            for (size_t i = 0; i < F; i++)
                if (R.acc[i].active && acc_merge(&R.acc[i], &R.acc[t * F + i])) {
                    rc = leap_err_set(err, LEAP_ENOMEM, "transform fit: out of memory");
                    goto done;
                }
        for (size_t i = 0; i < F; i++)
            if (R.acc[i].failed) {
                rc = leap_err_set(err, LEAP_ENOMEM, "transform fit: out of memory");
                goto done;
            }
        acc *fin = R.acc; /* single process: the merged state */
        if (size > 1) {   /* every rank merges every rank's state, in rank order */
            fin = &R.acc[(NS - 1) * F];
            if ((rc = exchange(comm, s, R.acc, fin, err))) goto done;
        }
        for (size_t i = 0; i < F; i++) {
            if (!fin[i].active) continue;
            leap_tf_field *f = &s->fields[i];
            if ((rc = op_finish(&f->ops[fin[i].op], &fin[i], f->src_type[0] == LEAP_COL_NUMERIC))) {
                rc = leap_err_set(err, rc, "transform fit: out of memory");
                goto done;
            }
        }
        for (size_t k = 0; k < NS * F; k++)
            acc_free(&R.acc[k]);
    }
    rep->seconds = leap_now() - t0;
    rep->rows = (double)rows;
    /* Boundaries given in the spec and stateless ops are fitted already. */
    for (size_t i = 0; i < F; i++)
        for (int j = 0; j < s->fields[i].n_ops; j++)
            s->fields[i].ops[j].fitted = 1;
    rc = leap__fz_from_spec(fz, s, err);
    s = NULL; /* owned by fz (or freed) now */
done:
    if (R.acc)
        for (size_t k = 0; k < (R.n_chunks + (size_t)threads + 1) * F; k++)
            acc_free(&R.acc[k]);
    if (R.rg)
        for (int t = 0; t < threads; t++)
            leap_rowgroup_free(&R.rg[t]);
    free(R.acc);
    free(R.rg);
    free(R.col);
    free(groups);
    if (s) leap_tf_spec_free(s);
    return rc;
}

uint64_t leap__tf_card(const leap_tf_field *f) {
    if (f->cross) return 1 + (uint64_t)f->ops[0].buckets;
    const leap_tf_op *t = f->n_ops ? &f->ops[f->n_ops - 1] : NULL;
    if (!t || !leap__tf_is_terminal(t->kind)) return 2;
    switch (t->kind) {
    case LEAP_TF_HASH: return 1 + (uint64_t)t->buckets;
    case LEAP_TF_VOCABULARY: return 1 + (uint64_t)t->vocab.n + t->oov_buckets;
    case LEAP_TF_BUCKETIZE: return 2 + (uint64_t)t->n_bounds;
    case LEAP_TF_LOG_BUCKET: return 1 + LEAP_TF_LOGB_SMALL + LEAP_TF_LOGB_BIG;
    default: return 2;
    }
}

int leap__fz_from_spec(leap_featurizer *fz, leap_tf_spec *s, leap_err *err) {
    memset(fz, 0, sizeof *fz);
    fz->fields = calloc(s->n_fields ? s->n_fields : 1, sizeof *fz->fields);
    if (!fz->fields) {
        leap_tf_spec_free(s);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    fz->tf = s;
    fz->n_fields = s->n_fields;
    snprintf(fz->label, sizeof fz->label, "%s", s->label);
    snprintf(fz->weight, sizeof fz->weight, "%s", s->weight);
    uint64_t off = 0;
    for (size_t i = 0; i < s->n_fields; i++) {
        leap_fz_field *f = &fz->fields[i];
        leap_tf_field *t = &s->fields[i];
        snprintf(f->column, sizeof f->column, "%s", t->src[0]);
        snprintf(f->name, sizeof f->name, "%s", s->names[i]);
        f->op = LEAP_FZ_HASH; /* unused with a spec */
        f->seed = leap__tf_seed(i);
        f->kind = leap__tf_field_kind(t);
        f->offset = (uint32_t)off;
        uint64_t card = leap__tf_card(t);
        f->card = (uint32_t)card;
        f->embedding_dim = s->embedding_dim[i];
        f->multi = !t->cross && t->src_type[0] == LEAP_COL_MULTI_CATEGORICAL;
        f->tf = t;
        off += card;
        if (off >= UINT32_MAX) {
            int rc = leap_err_set(err, LEAP_EINVAL,
                                  "%s: the features need more than 2^32 - 1 indices (lower "
                                  "buckets, top_k or quantiles)",
                                  s->name);
            leap_featurizer_free(fz);
            return rc;
        }
    }
    fz->n_buckets = (uint32_t)off;
    return LEAP_OK;
}
