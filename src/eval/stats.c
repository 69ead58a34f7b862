/* stats.c — column profiles of a dataset (`leap stats`): computes a
 * leap_stats in two passes over the row groups and renders it as a table,
 * JSON or a self-contained HTML page.
 *
 * Pass 1 (sketches): row groups are dealt to S = min(threads, groups) stripes
 * (stripe s reads groups s, s+S, ...), each stripe with its own HyperLogLog,
 * Space-Saving and KLL per column; stripes are merged in stripe order, so a
 * given thread count always gives the same output. Moments and label sums are
 * kept per row group and merged in row-group order, so they do not depend on
 * the thread count at all.
 * Pass 2 (exact): with p01/p99 and the top-value candidates known, the same
 * stripes count histogram bins and the candidates' occurrences and label sums
 * exactly.
 *
 * Does not: print (renderers take a FILE*), read raw logs, or use MPI.
 */
#include "leap/stats.h"
#include "leap/sketch.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const double leap_stats_quantile_ranks[LEAP_STATS_N_QUANTILES] = {0.01, 0.05, 0.25, 0.5,
                                                                  0.75, 0.95, 0.99};
static const char *const quantile_names[LEAP_STATS_N_QUANTILES] = {"p01", "p05", "p25", "p50",
                                                                   "p75", "p95", "p99"};

#define DEFAULT_TOP_K    10
#define MAX_TOP_K        100000
#define TOPK_PER_K       20 /* Space-Saving capacity per reported value */
#define CANDIDATES_PER_K 4  /* candidates recounted exactly in pass 2, per reported value */

void leap_stats_opts_init(leap_stats_opts *o) {
    memset(o, 0, sizeof *o);
    o->top_k = DEFAULT_TOP_K;
}

const char *leap_stats_opts_check(const leap_stats_opts *o, const leap_schema *s, char *buf,
                                  size_t len) {
    if (o->threads < 0 || o->threads > 1024) return "threads must be in [0, 1024]";
    if (o->top_k > MAX_TOP_K) return "top must be at most 100000";
    if (o->n_label_by && leap_schema_find_type(s, LEAP_COL_LABEL) < 0)
        return "--label-by: the dataset has no label column";
    for (size_t i = 0; i < o->n_label_by; i++) {
        if (leap_schema_find(s, o->label_by[i]) < 0) {
            snprintf(buf, len, "--label-by: no column named '%s'", o->label_by[i]);
            return buf;
        }
    }
    return NULL;
}

/* ---- value keys ------------------------------------------------------------
 * Every value becomes a non-zero 64-bit key (0 = missing): categoricals keep
 * their hash; floats are their bits (with -0 folded into +0) with bit 32 set;
 * timestamps have their sign bit flipped (INT64_MIN, the missing marker, maps
 * to 0). */
static int is_float_type(leap_col_type t) {
    return t == LEAP_COL_LABEL || t == LEAP_COL_WEIGHT || t == LEAP_COL_NUMERIC;
}
static int is_numeric_type(leap_col_type t) { return is_float_type(t) || t == LEAP_COL_TIMESTAMP; }
static inline uint64_t float_key(float x) {
    uint32_t u;
    if (x == 0.0f) x = 0.0f;
    memcpy(&u, &x, sizeof u);
    return (uint64_t)u | (1ULL << 32);
}
static inline uint64_t ts_key(int64_t v) { return (uint64_t)v ^ (1ULL << 63); }
/* HLL wants well-mixed bits; categorical hashes already are. */
static inline uint64_t hll_hash(uint64_t key) { return leap_mix64(key, 0x6c65617073746174ULL); }

/* ---- per-stripe state ------------------------------------------------------ */
typedef struct col_acc {
    uint64_t missing, n_values, vmax; /* present = rows - missing */
    leap_hll hll;
    leap_topk *tk;
    leap_kll *kll; /* numeric-like columns only */
} col_acc;

/* Pass-2 counters of one column in one stripe. */
typedef struct col_exact {
    uint64_t *count;                         /* [n_cand] */
    double *lw, *lwy;                        /* [n_cand] when the column is a label-by column */
    uint64_t hist[LEAP_STATS_HIST_BINS + 2]; /* under, bins, over */
} col_exact;

/* Candidates of one column, shared read-only in pass 2: an open-addressing
 * table from key to index. */
typedef struct col_cand {
    uint64_t *keys; /* [n] */
    size_t n;
    uint64_t *slot_key; /* [mask + 1], 0 = empty */
    uint32_t *slot_idx; /* [mask + 1] */
    size_t mask;
} col_cand;

typedef struct stripe {
    leap_rowgroup rg;
    int rg_ready;
    col_acc *acc;     /* [n_cols] */
    col_exact *exact; /* [n_cols] */
    leap_err err;
} stripe;

typedef struct run_ctx {
    leap_dataset *ds;
    const leap_schema *schema;
    size_t n_cols, n_groups, n_stripes;
    stripe *st;        /* [n_stripes] */
    leap_moments *mom; /* [n_groups * n_cols] (numeric-like columns) */
    double *glab;      /* [n_groups * 2]: sum(w), sum(w·y) per group */
    col_cand *cand;    /* [n_cols] */
    uint8_t *label_by; /* [n_cols] */
    leap_stats *out;   /* for the histogram edges */
    int label_col, weight_col;
    uint64_t kll_seed;
} run_ctx;

static inline double row_weight(const leap_rowgroup *rg, int weight_col, size_t i) {
    if (weight_col < 0) return 1.0;
    float w = rg->cols[weight_col].f32[i];
    return isnan(w) ? 1.0 : (double)w;
}

static void pass1_column(col_acc *a, leap_moments *m, leap_col_type t, const leap_column *c,
                         size_t n) {
    if (is_float_type(t)) {
        for (size_t i = 0; i < n; i++) {
            float x = c->f32[i];
            if (isnan(x)) {
                a->missing++;
                continue;
            }
            uint64_t k = float_key(x);
            leap_hll_add(&a->hll, hll_hash(k));
            leap_topk_add(a->tk, k, 1.0);
            leap_kll_add(a->kll, (double)x);
            leap_moments_add(m, (double)x);
        }
    } else if (t == LEAP_COL_TIMESTAMP) {
        for (size_t i = 0; i < n; i++) {
            uint64_t k = ts_key(c->i64[i]);
            if (!k) {
                a->missing++;
                continue;
            }
            leap_hll_add(&a->hll, hll_hash(k));
            leap_topk_add(a->tk, k, 1.0);
            leap_kll_add(a->kll, (double)c->i64[i]);
            leap_moments_add(m, (double)c->i64[i]);
        }
    } else if (t == LEAP_COL_CATEGORICAL) {
        for (size_t i = 0; i < n; i++) {
            uint64_t k = c->u64[i];
            if (!k) {
                a->missing++;
                continue;
            }
            leap_hll_add(&a->hll, k);
            leap_topk_add(a->tk, k, 1.0);
        }
    } else { /* MULTI_CATEGORICAL */
        for (size_t i = 0; i < n; i++) {
            uint32_t b = c->offsets[i], e = c->offsets[i + 1];
            if (b == e) {
                a->missing++;
                continue;
            }
            if (e - b > a->vmax) a->vmax = e - b;
            a->n_values += e - b;
            for (uint32_t j = b; j < e; j++) {
                uint64_t k = c->u64[j];
                if (!k) continue;
                leap_hll_add(&a->hll, k);
                leap_topk_add(a->tk, k, 1.0);
            }
        }
    }
}

static int read_group(run_ctx *x, stripe *st, size_t g) {
    if (!st->rg_ready) {
        if (leap_rowgroup_init(&st->rg, x->schema))
            return leap_err_set(&st->err, LEAP_ENOMEM, "out of memory for a row group");
        st->rg_ready = 1;
    }
    return leap_dataset_read_row_group(x->ds, g, &st->rg, &st->err);
}

static int pass1_task(void *ctx, size_t task, int thread) {
    run_ctx *x = ctx;
    stripe *st = &x->st[task];
    for (size_t g = task; g < x->n_groups; g += x->n_stripes) {
        int rc = read_group(x, st, g);
        if (rc) return rc;
        const leap_rowgroup *rg = &st->rg;
        size_t n = rg->n_rows;
        for (size_t c = 0; c < x->n_cols; c++) {
            leap_moments *m = &x->mom[g * x->n_cols + c];
            leap_moments_init(m);
            pass1_column(&st->acc[c], m, x->schema->cols[c].type, &rg->cols[c], n);
        }
        double sw = 0, swy = 0;
        if (x->label_col >= 0) {
            const float *y = rg->cols[x->label_col].f32;
            for (size_t i = 0; i < n; i++) {
                if (isnan(y[i])) continue;
                double w = row_weight(rg, x->weight_col, i);
                sw += w;
                swy += w * (double)y[i];
            }
        }
        x->glab[2 * g] = sw;
        x->glab[2 * g + 1] = swy;
    }
    return 0;
}

/* ---- pass 2 ------------------------------------------------------------------ */
static inline long cand_find(const col_cand *cd, uint64_t k) {
    if (!cd->n || !k) return -1;
    size_t s = (size_t)leap_mix64(k, 1) & cd->mask;
    while (cd->slot_key[s]) {
        if (cd->slot_key[s] == k) return (long)cd->slot_idx[s];
        s = (s + 1) & cd->mask;
    }
    return -1;
}

static inline void hist_add(uint64_t *h, const leap_stats_column *oc, double v) {
    const double *e = oc->hist_edges;
    if (v < e[0]) {
        h[0]++;
        return;
    }
    if (v > e[LEAP_STATS_HIST_BINS]) {
        h[LEAP_STATS_HIST_BINS + 1]++;
        return;
    }
    double span =
        oc->hist_log ? log(e[LEAP_STATS_HIST_BINS]) - log(e[0]) : e[LEAP_STATS_HIST_BINS] - e[0];
    double pos = oc->hist_log ? log(v) - log(e[0]) : v - e[0];
    long b = span > 0 ? (long)(pos / span * LEAP_STATS_HIST_BINS) : 0;
    if (b < 0) b = 0;
    if (b > LEAP_STATS_HIST_BINS - 1) b = LEAP_STATS_HIST_BINS - 1;
    /* agree exactly with the stored edges despite rounding in log/divide */
    while (b > 0 && v < e[b])
        b--;
    while (b < LEAP_STATS_HIST_BINS - 1 && v >= e[b + 1])
        b++;
    h[1 + b]++;
}

static void pass2_column(run_ctx *x, stripe *st, size_t c, const leap_rowgroup *rg) {
    const leap_column *col = &rg->cols[c];
    leap_col_type t = x->schema->cols[c].type;
    const col_cand *cd = &x->cand[c];
    col_exact *ex = &st->exact[c];
    const leap_stats_column *oc = &x->out->cols[c];
    int lb = x->label_by[c];
    const float *y = x->label_col >= 0 ? rg->cols[x->label_col].f32 : NULL;
    size_t n = rg->n_rows;
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        double v = 0;
        if (is_float_type(t)) {
            if (isnan(col->f32[i])) continue;
            k = float_key(col->f32[i]);
            v = col->f32[i];
        } else if (t == LEAP_COL_TIMESTAMP) {
            k = ts_key(col->i64[i]);
            if (!k) continue;
            v = (double)col->i64[i];
        } else if (t == LEAP_COL_CATEGORICAL) {
            k = col->u64[i];
        } else {
            int has_y = lb && !isnan(y[i]);
            double w = has_y ? row_weight(rg, x->weight_col, i) : 0;
            for (uint32_t j = col->offsets[i]; j < col->offsets[i + 1]; j++) {
                long idx = cand_find(cd, col->u64[j]);
                if (idx < 0) continue;
                ex->count[idx]++;
                if (has_y) {
                    ex->lw[idx] += w;
                    ex->lwy[idx] += w * (double)y[i];
                }
            }
            continue;
        }
        if (oc->numeric) hist_add(ex->hist, oc, v);
        long idx = cand_find(cd, k);
        if (idx < 0) continue;
        ex->count[idx]++;
        if (lb && !isnan(y[i])) {
            double w = row_weight(rg, x->weight_col, i);
            ex->lw[idx] += w;
            ex->lwy[idx] += w * (double)y[i];
        }
    }
}

static int pass2_task(void *ctx, size_t task, int thread) {
    run_ctx *x = ctx;
    stripe *st = &x->st[task];
    for (size_t g = task; g < x->n_groups; g += x->n_stripes) {
        int rc = read_group(x, st, g);
        if (rc) return rc;
        for (size_t c = 0; c < x->n_cols; c++)
            pass2_column(x, st, c, &st->rg);
    }
    return 0;
}

/* ---- assembling the result ---------------------------------------------------- */
static char *value_text(leap_dataset *ds, size_t c, leap_col_type t, uint64_t k) {
    char buf[64];
    const char *s;
    size_t len;
    if (t == LEAP_COL_CATEGORICAL || t == LEAP_COL_MULTI_CATEGORICAL) {
        if (leap_dataset_dict_lookup(ds, c, k, &s, &len) == 0) {
            char *r = malloc(len + 1);
            if (r) {
                memcpy(r, s, len);
                r[len] = 0;
            }
            return r;
        }
        snprintf(buf, sizeof buf, "#%016" PRIx64, k);
    } else if (t == LEAP_COL_TIMESTAMP) {
        snprintf(buf, sizeof buf, "%" PRId64, (int64_t)(k ^ (1ULL << 63)));
    } else {
        uint32_t u = (uint32_t)k;
        float f;
        memcpy(&f, &u, sizeof f);
        snprintf(buf, sizeof buf, "%.9g", (double)f);
    }
    return strdup(buf);
}

static void set_hist_edges(leap_stats_column *oc) {
    double lo = oc->quantiles[0], hi = oc->quantiles[LEAP_STATS_N_QUANTILES - 1];
    if (!(hi > lo)) hi = lo + 1; /* one value (or none): a unit-wide range */
    oc->hist_log = lo > 0 && hi / lo > 1000;
    for (int b = 0; b <= LEAP_STATS_HIST_BINS; b++) {
        double f = (double)b / LEAP_STATS_HIST_BINS;
        oc->hist_edges[b] =
            oc->hist_log ? exp(log(lo) + f * (log(hi) - log(lo))) : lo + f * (hi - lo);
    }
    oc->hist_edges[0] = lo;
    oc->hist_edges[LEAP_STATS_HIST_BINS] = hi;
}

static int cand_build(col_cand *cd, const leap_topk_item *items, size_t n) {
    cd->n = n;
    if (!n) return 0;
    size_t cap = 4;
    while (cap < 2 * n)
        cap *= 2;
    cd->mask = cap - 1;
    cd->keys = malloc(n * sizeof *cd->keys);
    cd->slot_key = calloc(cap, sizeof *cd->slot_key);
    cd->slot_idx = calloc(cap, sizeof *cd->slot_idx);
    if (!cd->keys || !cd->slot_key || !cd->slot_idx) return LEAP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cd->keys[i] = items[i].key;
        size_t s = (size_t)leap_mix64(items[i].key, 1) & cd->mask;
        while (cd->slot_key[s])
            s = (s + 1) & cd->mask;
        cd->slot_key[s] = items[i].key;
        cd->slot_idx[s] = (uint32_t)i;
    }
    return 0;
}

static int value_cmp(const void *a, const void *b) {
    const leap_stats_value *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

void leap_stats_free(leap_stats *s) {
    if (!s) return;
    for (size_t c = 0; c < s->n_cols && s->cols; c++) {
        for (size_t i = 0; i < s->cols[c].n_top; i++)
            free(s->cols[c].top[i].text);
        free(s->cols[c].top);
    }
    free(s->cols);
    free(s->path);
    memset(s, 0, sizeof *s);
}

static void stripe_free(stripe *st, size_t n_cols) {
    if (st->rg_ready) leap_rowgroup_free(&st->rg);
    for (size_t c = 0; st->acc && c < n_cols; c++) {
        leap_hll_free(&st->acc[c].hll);
        if (st->acc[c].tk) leap_topk_destroy(st->acc[c].tk);
        if (st->acc[c].kll) leap_kll_destroy(st->acc[c].kll);
    }
    for (size_t c = 0; st->exact && c < n_cols; c++) {
        free(st->exact[c].count);
        free(st->exact[c].lw);
        free(st->exact[c].lwy);
    }
    free(st->acc);
    free(st->exact);
}

static int stripe_init(stripe *st, const leap_schema *s, size_t cap, uint64_t seed) {
    st->acc = calloc(s->n_cols, sizeof *st->acc);
    st->exact = calloc(s->n_cols, sizeof *st->exact);
    if (!st->acc || !st->exact) return LEAP_ENOMEM;
    for (size_t c = 0; c < s->n_cols; c++) {
        col_acc *a = &st->acc[c];
        if (leap_hll_init(&a->hll, LEAP_STATS_HLL_P)) return LEAP_ENOMEM;
        if (leap_topk_create(cap, &a->tk)) return LEAP_ENOMEM;
        if (is_numeric_type(s->cols[c].type) &&
            leap_kll_create(LEAP_STATS_KLL_K, seed + c, &a->kll))
            return LEAP_ENOMEM;
    }
    return 0;
}

static int run_pass(run_ctx *x, leap_task_fn fn, leap_err *err) {
    int rc = leap_parallel_for((int)x->n_stripes, x->n_stripes, fn, x);
    if (!rc) return 0;
    for (size_t s = 0; s < x->n_stripes; s++)
        if (x->st[s].err.status) {
            *err = x->st[s].err;
            return x->st[s].err.status;
        }
    return leap_err_set(err, rc, "stats: %s", leap_strerror(rc));
}

int leap_stats_compute(leap_dataset *ds, const leap_stats_opts *o, leap_stats *out, leap_err *err) {
    memset(out, 0, sizeof *out);
    const leap_schema *s = leap_dataset_schema(ds);
    char msg[256];
    const char *bad = leap_stats_opts_check(o, s, msg, sizeof msg);
    if (bad) return leap_err_set(err, LEAP_EINVAL, "%s", bad);

    size_t k = o->top_k ? o->top_k : DEFAULT_TOP_K;
    int threads = o->threads > 0 ? o->threads : leap_num_cpus();
    run_ctx x;
    memset(&x, 0, sizeof x);
    x.ds = ds;
    x.schema = s;
    x.n_cols = s->n_cols;
    x.n_groups = leap_dataset_num_row_groups(ds);
    x.n_stripes = x.n_groups < (size_t)threads ? x.n_groups : (size_t)threads;
    if (x.n_stripes == 0) x.n_stripes = 1;
    x.label_col = leap_schema_find_type(s, LEAP_COL_LABEL);
    x.weight_col = leap_schema_find_type(s, LEAP_COL_WEIGHT);
    x.out = out;

    out->path = strdup(leap_dataset_path(ds));
    out->rows = leap_dataset_num_rows(ds);
    out->row_groups = x.n_groups;
    out->threads = threads;
    out->top_k = k;
    out->label_col = x.label_col;
    out->weight_col = x.weight_col;
    out->n_cols = x.n_cols;
    out->cols = calloc(x.n_cols ? x.n_cols : 1, sizeof *out->cols);
    x.st = calloc(x.n_stripes, sizeof *x.st);
    x.mom = calloc(x.n_groups * x.n_cols + 1, sizeof *x.mom);
    x.glab = calloc(2 * x.n_groups + 1, sizeof *x.glab);
    x.cand = calloc(x.n_cols + 1, sizeof *x.cand);
    x.label_by = calloc(x.n_cols + 1, 1);
    leap_topk_item *items = NULL;
    int rc = LEAP_ENOMEM;
    if (!out->path || !out->cols || !x.st || !x.mom || !x.glab || !x.cand || !x.label_by) goto oom;
    for (size_t i = 0; i < o->n_label_by; i++)
        x.label_by[leap_schema_find(s, o->label_by[i])] = 1;
    for (size_t t = 0; t < x.n_stripes; t++)
        if (stripe_init(&x.st[t], s, TOPK_PER_K * k, 0x1eab5eedULL + 7919 * t)) goto oom;

    if ((rc = run_pass(&x, pass1_task, err))) goto done;

    /* merge the stripes into stripe 0, in stripe order */
    for (size_t t = 1; t < x.n_stripes; t++)
        for (size_t c = 0; c < x.n_cols; c++) {
            col_acc *a = &x.st[0].acc[c], *b = &x.st[t].acc[c];
            a->missing += b->missing;
            a->n_values += b->n_values;
            if (b->vmax > a->vmax) a->vmax = b->vmax;
            if (leap_hll_merge(&a->hll, &b->hll) || leap_topk_merge(a->tk, b->tk) ||
                (a->kll && leap_kll_merge(a->kll, b->kll)))
                goto oom;
        }
    size_t n_cand_max = CANDIDATES_PER_K * k;
    items = malloc(n_cand_max * sizeof *items);
    if (!items) goto oom;
    for (size_t c = 0; c < x.n_cols; c++) {
        leap_stats_column *oc = &out->cols[c];
        col_acc *a = &x.st[0].acc[c];
        snprintf(oc->name, sizeof oc->name, "%s", s->cols[c].name);
        oc->type = s->cols[c].type;
        oc->missing = a->missing;
        oc->present = out->rows - a->missing;
        oc->missing_rate = out->rows ? (double)a->missing / (double)out->rows : NAN;
        oc->distinct = leap_hll_estimate(&a->hll);
        oc->label_by = x.label_by[c];
        if (oc->type == LEAP_COL_MULTI_CATEGORICAL) {
            oc->multi = 1;
            oc->n_values = a->n_values;
            oc->values_per_row_mean = out->rows ? (double)a->n_values / (double)out->rows : NAN;
            oc->values_per_row_max = a->vmax;
        }
        oc->min = oc->max = oc->mean = oc->std = NAN;
        for (int q = 0; q < LEAP_STATS_N_QUANTILES; q++)
            oc->quantiles[q] = NAN;
        if (a->kll) {
            oc->numeric = 1;
            leap_moments m;
            leap_moments_init(&m);
            for (size_t g = 0; g < x.n_groups; g++)
                leap_moments_merge(&m, &x.mom[g * x.n_cols + c]);
            if (m.n > 0) {
                oc->min = m.min;
                oc->max = m.max;
                oc->mean = m.mean;
                oc->std = sqrt(leap_moments_var(&m));
                if (leap_kll_quantiles(a->kll, leap_stats_quantile_ranks, LEAP_STATS_N_QUANTILES,
                                       oc->quantiles))
                    goto oom;
                double eb = leap_kll_error_bound(a->kll);
                if (eb > out->kll_rank_error) out->kll_rank_error = eb;
            }
            set_hist_edges(oc);
        }
        size_t nc = leap_topk_items(a->tk, items, n_cand_max);
        if (cand_build(&x.cand[c], items, nc)) goto oom;
        for (size_t t = 0; t < x.n_stripes; t++) {
            col_exact *ex = &x.st[t].exact[c];
            ex->count = calloc(nc + 1, sizeof *ex->count);
            if (!ex->count) goto oom;
            if (oc->label_by) {
                ex->lw = calloc(nc + 1, sizeof *ex->lw);
                ex->lwy = calloc(nc + 1, sizeof *ex->lwy);
                if (!ex->lw || !ex->lwy) goto oom;
            }
        }
    }
    out->label_rate = NAN;
    for (size_t g = 0; g < x.n_groups; g++) {
        out->label_w += x.glab[2 * g];
        out->label_wy += x.glab[2 * g + 1];
    }
    if (out->label_w > 0) out->label_rate = out->label_wy / out->label_w;

    if ((rc = run_pass(&x, pass2_task, err))) goto done;

    for (size_t c = 0; c < x.n_cols; c++) {
        leap_stats_column *oc = &out->cols[c];
        const col_cand *cd = &x.cand[c];
        for (size_t t = 0; t < x.n_stripes; t++)
            for (int b = 0; b < LEAP_STATS_HIST_BINS + 2; b++) {
                uint64_t v = x.st[t].exact[c].hist[b];
                if (b == 0)
                    oc->hist_under += v;
                else if (b == LEAP_STATS_HIST_BINS + 1)
                    oc->hist_over += v;
                else
                    oc->hist[b - 1] += v;
            }
        if (!cd->n) continue;
        leap_stats_value *vals = calloc(cd->n, sizeof *vals);
        if (!vals) goto oom;
        for (size_t i = 0; i < cd->n; i++) {
            vals[i].key = cd->keys[i];
            for (size_t t = 0; t < x.n_stripes; t++) {
                const col_exact *ex = &x.st[t].exact[c];
                vals[i].count += ex->count[i];
                if (oc->label_by) {
                    vals[i].label_w += ex->lw[i];
                    vals[i].label_wy += ex->lwy[i];
                }
            }
            vals[i].label_rate = vals[i].label_w > 0 ? vals[i].label_wy / vals[i].label_w : NAN;
        }
        qsort(vals, cd->n, sizeof *vals, value_cmp);
        oc->top = vals;
        oc->n_top = cd->n < k ? cd->n : k;
        for (size_t i = 0; i < oc->n_top; i++)
            if (!(vals[i].text = value_text(ds, c, oc->type, vals[i].key))) goto oom;
    }
    rc = 0;
    goto done;
oom:
    rc = leap_err_set(err, LEAP_ENOMEM, "stats: out of memory");
done:
    for (size_t t = 0; x.st && t < x.n_stripes; t++)
        stripe_free(&x.st[t], x.n_cols);
    for (size_t c = 0; x.cand && c < x.n_cols; c++) {
        free(x.cand[c].keys);
        free(x.cand[c].slot_key);
        free(x.cand[c].slot_idx);
    }
    free(items);
    free(x.st);
    free(x.mom);
    free(x.glab);
    free(x.cand);
    free(x.label_by);
    return rc;
}

/* ---- rendering: shared helpers ------------------------------------------------ */
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    size_t n = (s[0] & 0xe0) == 0xc0   ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 2 && s[0] < 0xc2) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
        } else if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            if (*p == '"' || *p == '\\')
                fprintf(f, "\\%c", *p);
            else if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
            p++;
        }
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void html_str(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("&#xfffd;", f);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        }
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "&#xfffd;");
            else
                fputc(*p, f);
        }
        p++;
    }
}

/* Printable copy for the table: control bytes become '?', cut to width bytes. */
static void table_str(char *dst, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    dst[i] = 0;
}

static const char *label_desc(const leap_stats *s) {
    return s->weight_col >= 0 ? "weighted by" : "unweighted";
}

static double share(const leap_stats_column *c, uint64_t count) {
    double base = c->multi ? (double)c->n_values : (double)c->present;
    return base > 0 ? (double)count / base : NAN;
}

static int finish(FILE *f) { return ferror(f) ? LEAP_EIO : 0; }

/* ---- table ------------------------------------------------------------------- */
static void table_bar(FILE *f, uint64_t v, uint64_t vmax) {
    int w = vmax ? (int)((double)v / (double)vmax * 40 + 0.5) : 0;
    if (w > 0) fputc(' ', f);
    for (int i = 0; i < w; i++)
        fputc('#', f);
    fputc('\n', f);
}

int leap_stats_write_table(FILE *f, const leap_stats *s) {
    fprintf(f, "dataset %s: %" PRIu64 " rows, %zu row groups, %zu columns (%d threads)\n", s->path,
            s->rows, s->row_groups, s->n_cols, s->threads);
    if (s->label_col >= 0) {
        fprintf(f, "label rate %.6g (column '%s', %s", s->label_rate, s->cols[s->label_col].name,
                label_desc(s));
        if (s->weight_col >= 0) fprintf(f, " '%s'", s->cols[s->weight_col].name);
        fprintf(f, ")\n");
    }
    fprintf(f,
            "exact: counts, missing, min/max/mean/std, top-value counts, histogram counts, label "
            "rates\nestimated: distinct (HyperLogLog p=%d, std error 0.81%%); quantiles (KLL k=%d, "
            "rank error <= %.3g%% at 99%% confidence)\n",
            LEAP_STATS_HLL_P, LEAP_STATS_KLL_K, 100 * s->kll_rank_error);
    for (size_t c = 0; c < s->n_cols; c++) {
        const leap_stats_column *oc = &s->cols[c];
        fprintf(f, "\n== %s (%s)\n", oc->name, leap_col_type_name(oc->type));
        fprintf(f, "  %-10s %" PRIu64 "\n", "present", oc->present);
        fprintf(f, "  %-10s %" PRIu64 " (%.2f%%)\n", "missing", oc->missing,
                100 * oc->missing_rate);
        fprintf(f, "  %-10s ~%.0f\n", "distinct", oc->distinct);
        if (oc->multi)
            fprintf(f, "  %-10s mean %.4g, max %" PRIu64 " (%" PRIu64 " values)\n", "per row",
                    oc->values_per_row_mean, oc->values_per_row_max, oc->n_values);
        if (oc->numeric) {
            fprintf(f, "  %-10s %.9g\n  %-10s %.9g\n  %-10s %.9g\n  %-10s %.9g\n", "min", oc->min,
                    "max", oc->max, "mean", oc->mean, "std", oc->std);
            fprintf(f, "  %-10s", "quantiles");
            for (int q = 0; q < LEAP_STATS_N_QUANTILES; q++)
                fprintf(f, " %s=%.6g", quantile_names[q], oc->quantiles[q]);
            fprintf(f, "\n  histogram (%s, 20 bins over [p01, p99])\n",
                    oc->hist_log ? "log scale" : "linear");
            uint64_t vmax = oc->hist_under > oc->hist_over ? oc->hist_under : oc->hist_over;
            for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
                if (oc->hist[b] > vmax) vmax = oc->hist[b];
            char range[64];
            snprintf(range, sizeof range, "< %.6g", oc->hist_edges[0]);
            fprintf(f, "    %-28s %10" PRIu64, range, oc->hist_under);
            table_bar(f, oc->hist_under, vmax);
            for (int b = 0; b < LEAP_STATS_HIST_BINS; b++) {
                snprintf(range, sizeof range, "[%.6g, %.6g%c", oc->hist_edges[b],
                         oc->hist_edges[b + 1], b == LEAP_STATS_HIST_BINS - 1 ? ']' : ')');
                fprintf(f, "    %-28s %10" PRIu64, range, oc->hist[b]);
                table_bar(f, oc->hist[b], vmax);
            }
            snprintf(range, sizeof range, "> %.6g", oc->hist_edges[LEAP_STATS_HIST_BINS]);
            fprintf(f, "    %-28s %10" PRIu64, range, oc->hist_over);
            table_bar(f, oc->hist_over, vmax);
        }
        if (oc->n_top) {
            fprintf(f, "  top %zu values\n    %-28s %10s %8s", oc->n_top, "value", "count",
                    "share");
            if (oc->label_by) fprintf(f, " %12s %10s", "label w", "label rate");
            fputc('\n', f);
            for (size_t i = 0; i < oc->n_top; i++) {
                const leap_stats_value *v = &oc->top[i];
                char txt[29];
                table_str(txt, sizeof txt, v->text);
                fprintf(f, "    %-28s %10" PRIu64 " %7.3f%%", txt, v->count,
                        100 * share(oc, v->count));
                if (oc->label_by) fprintf(f, " %12.6g %10.6g", v->label_w, v->label_rate);
                fputc('\n', f);
            }
        }
    }
    return finish(f);
}

/* ---- JSON --------------------------------------------------------------------- */
int leap_stats_write_json(FILE *f, const leap_stats *s) {
    fputs("{\"dataset\": ", f);
    json_str(f, s->path);
    fprintf(f, ", \"rows\": %" PRIu64 ", \"row_groups\": %zu, \"threads\": %d, \"top_k\": %zu",
            s->rows, s->row_groups, s->threads, s->top_k);
    fprintf(f, ", \"distinct_method\": \"hyperloglog p=%d\", \"quantile_method\": \"kll k=%d\"",
            LEAP_STATS_HLL_P, LEAP_STATS_KLL_K);
    fputs(", \"quantile_rank_error\": ", f);
    json_num(f, s->kll_rank_error);
    fputs(", \"label\": ", f);
    if (s->label_col >= 0) {
        fputs("{\"column\": ", f);
        json_str(f, s->cols[s->label_col].name);
        fputs(", \"weight_column\": ", f);
        if (s->weight_col >= 0)
            json_str(f, s->cols[s->weight_col].name);
        else
            fputs("null", f);
        fputs(", \"weight_sum\": ", f);
        json_num(f, s->label_w);
        fputs(", \"rate\": ", f);
        json_num(f, s->label_rate);
        fputs("}", f);
    } else {
        fputs("null", f);
    }
    fputs(", \"columns\": [", f);
    for (size_t c = 0; c < s->n_cols; c++) {
        const leap_stats_column *oc = &s->cols[c];
        fputs(c ? ", {\"name\": " : "{\"name\": ", f);
        json_str(f, oc->name);
        fprintf(f, ", \"type\": \"%s\", \"present\": %" PRIu64 ", \"missing\": %" PRIu64,
                leap_col_type_name(oc->type), oc->present, oc->missing);
        fputs(", \"missing_rate\": ", f);
        json_num(f, oc->missing_rate);
        fputs(", \"distinct\": ", f);
        json_num(f, oc->distinct);
        if (oc->multi) {
            fprintf(f, ", \"values\": %" PRIu64 ", \"values_per_row_mean\": ", oc->n_values);
            json_num(f, oc->values_per_row_mean);
            fprintf(f, ", \"values_per_row_max\": %" PRIu64, oc->values_per_row_max);
        }
        if (oc->numeric) {
            const double st[4] = {oc->min, oc->max, oc->mean, oc->std};
            const char *nm[4] = {"min", "max", "mean", "std"};
            for (int i = 0; i < 4; i++) {
                fprintf(f, ", \"%s\": ", nm[i]);
                json_num(f, st[i]);
            }
            fputs(", \"quantiles\": {", f);
            for (int q = 0; q < LEAP_STATS_N_QUANTILES; q++) {
                fprintf(f, "%s\"%g\": ", q ? ", " : "", leap_stats_quantile_ranks[q]);
                json_num(f, oc->quantiles[q]);
            }
            fprintf(f, "}, \"histogram\": {\"scale\": \"%s\", \"edges\": [",
                    oc->hist_log ? "log" : "linear");
            for (int b = 0; b <= LEAP_STATS_HIST_BINS; b++) {
                if (b) fputs(", ", f);
                json_num(f, oc->hist_edges[b]);
            }
            fprintf(f, "], \"underflow\": %" PRIu64 ", \"counts\": [", oc->hist_under);
            for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
                fprintf(f, "%s%" PRIu64, b ? ", " : "", oc->hist[b]);
            fprintf(f, "], \"overflow\": %" PRIu64 "}", oc->hist_over);
        }
        fputs(", \"top\": [", f);
        for (size_t i = 0; i < oc->n_top; i++) {
            const leap_stats_value *v = &oc->top[i];
            fputs(i ? ", {\"value\": " : "{\"value\": ", f);
            json_str(f, v->text);
            fprintf(f, ", \"count\": %" PRIu64 ", \"share\": ", v->count);
            json_num(f, share(oc, v->count));
            if (oc->label_by) {
                fputs(", \"label_weight\": ", f);
                json_num(f, v->label_w);
                fputs(", \"label_rate\": ", f);
                json_num(f, v->label_rate);
            }
            fputs("}", f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
    return finish(f);
}

/* ---- HTML ----------------------------------------------------------------------- */
static void svg_histogram(FILE *f, const leap_stats_column *oc) {
    const int bw = 18, gap = 2, h = 120, n = LEAP_STATS_HIST_BINS + 2;
    uint64_t v[LEAP_STATS_HIST_BINS + 2], vmax = 1;
    v[0] = oc->hist_under;
    for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
        v[b + 1] = oc->hist[b];
    v[n - 1] = oc->hist_over;
    for (int i = 0; i < n; i++)
        if (v[i] > vmax) vmax = v[i];
    int width = n * (bw + gap);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"histogram\">\n",
            width, h + 16);
    for (int i = 0; i < n; i++) {
        double bh = (double)v[i] / (double)vmax * h;
        char range[80];
        if (i == 0)
            snprintf(range, sizeof range, "&lt; %.6g", oc->hist_edges[0]);
        else if (i == n - 1)
            snprintf(range, sizeof range, "&gt; %.6g", oc->hist_edges[LEAP_STATS_HIST_BINS]);
        else
            snprintf(range, sizeof range, "[%.6g, %.6g%c", oc->hist_edges[i - 1], oc->hist_edges[i],
                     i == n - 2 ? ']' : ')');
        fprintf(f,
                "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" class=\"%s\">"
                "<title>%s: %" PRIu64 "</title></rect>\n",
                i * (bw + gap), h - bh, bw, bh, (i == 0 || i == n - 1) ? "tail" : "bin", range,
                v[i]);
    }
    fprintf(f,
            "<text x=\"0\" y=\"%d\">%.6g</text><text x=\"%d\" y=\"%d\" "
            "text-anchor=\"end\">%.6g</text>\n</svg>\n",
            h + 14, oc->hist_edges[0], width, h + 14, oc->hist_edges[LEAP_STATS_HIST_BINS]);
}

static void html_row(FILE *f, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void html_row(FILE *f, const char *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "<tr><th>%s</th><td>", k);
    vfprintf(f, fmt, ap);
    fputs("</td></tr>\n", f);
    va_end(ap);
}

int leap_stats_write_html(FILE *f, const leap_stats *s) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>leap stats: ",
          f);
    html_str(f, s->path);
    fputs("</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse;margin:.5em 0}\n"
          "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          "section{margin-bottom:2em}.cols{display:flex;gap:2em;flex-wrap:wrap}\n"
          "rect.bin{fill:#4477aa}rect.tail{fill:#bb5566}svg text{font-size:11px}\n"
          "</style></head><body>\n<h1>leap stats: ",
          f);
    html_str(f, s->path);
    fprintf(f, "</h1>\n<p>%" PRIu64 " rows, %zu row groups, %zu columns.", s->rows, s->row_groups,
            s->n_cols);
    if (s->label_col >= 0) {
        fprintf(f, " Label rate <b>%.6g</b> (column ", s->label_rate);
        html_str(f, s->cols[s->label_col].name);
        fprintf(f, ", %s", label_desc(s));
        if (s->weight_col >= 0) {
            fputc(' ', f);
            html_str(f, s->cols[s->weight_col].name);
        }
        fputs(").", f);
    }
    fprintf(f,
            "</p>\n<p>Exact: counts, missing, min/max/mean/std, top-value counts, histogram "
            "counts, label rates. Estimated: distinct (HyperLogLog p=%d, standard error 0.81%%), "
            "quantiles (KLL k=%d, normalised rank error &le; %.3g%% at 99%% confidence). "
            "Histograms: 20 bins over [p01, p99] (log scale beyond 3 decades), red bars are the "
            "values below p01 and above p99.</p>\n",
            LEAP_STATS_HLL_P, LEAP_STATS_KLL_K, 100 * s->kll_rank_error);
    for (size_t c = 0; c < s->n_cols; c++) {
        const leap_stats_column *oc = &s->cols[c];
        fputs("<section>\n<h2>", f);
        html_str(f, oc->name);
        fprintf(f, " <small>(%s)</small></h2>\n<div class=\"cols\"><table>\n",
                leap_col_type_name(oc->type));
        html_row(f, "present", "%" PRIu64, oc->present);
        html_row(f, "missing", "%" PRIu64 " (%.2f%%)", oc->missing, 100 * oc->missing_rate);
        html_row(f, "distinct", "~%.0f", oc->distinct);
        if (oc->multi) {
            html_row(f, "values per row", "mean %.4g, max %" PRIu64, oc->values_per_row_mean,
                     oc->values_per_row_max);
        }
        if (oc->numeric) {
            html_row(f, "min", "%.9g", oc->min);
            html_row(f, "max", "%.9g", oc->max);
            html_row(f, "mean", "%.9g", oc->mean);
            html_row(f, "std", "%.9g", oc->std);
            for (int q = 0; q < LEAP_STATS_N_QUANTILES; q++)
                html_row(f, quantile_names[q], "%.6g", oc->quantiles[q]);
        }
        fputs("</table>\n", f);
        if (oc->numeric) {
            fprintf(f, "<div><p>histogram (%s)</p>\n", oc->hist_log ? "log scale" : "linear");
            svg_histogram(f, oc);
            fputs("</div>\n", f);
        }
        if (oc->n_top) {
            fputs("<table><tr><th>value</th><th>count</th><th>share</th>", f);
            if (oc->label_by) fputs("<th>label weight</th><th>label rate</th>", f);
            fputs("</tr>\n", f);
            for (size_t i = 0; i < oc->n_top; i++) {
                const leap_stats_value *v = &oc->top[i];
                fputs("<tr><td>", f);
                html_str(f, v->text);
                fprintf(f, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%.3f%%</td>",
                        v->count, 100 * share(oc, v->count));
                if (oc->label_by)
                    fprintf(f, "<td class=\"n\">%.6g</td><td class=\"n\">%.6g</td>", v->label_w,
                            v->label_rate);
                fputs("</tr>\n", f);
            }
            fputs("</table>\n", f);
        }
        fputs("</div></section>\n", f);
    }
    fputs("</body></html>\n", f);
    return finish(f);
}
