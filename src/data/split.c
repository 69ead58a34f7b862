/* split.c — `leap split`: deterministic train/valid/test splits of a dataset
 * (by row hash, by a column's hash, or by time) and negative downsampling of
 * the train output with compensating weights. The rules are in
 * include/leap/split.h.
 *
 * How it runs: row groups are processed in windows of two per thread. Each
 * task reads one input row group, assigns its rows, gathers them into one
 * row group per output and compresses those; then the window's encoded row
 * groups are appended in input order, so outputs are identical for any thread
 * count. The time split first reads the time column alone to find the cut
 * points (8 bytes per row held in memory, plus a sorted copy).
 *
 * Does not: shuffle rows, merge small output row groups, or print. */
#include "leap/split.h"

#include "data/dataset_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const out_names3[] = {"train", "valid", "test"};
static const char *const out_names2[] = {"train", "test"};

const char *leap_split_output_name(size_t i, size_t n_outputs) {
    if (n_outputs == 2) return i < 2 ? out_names2[i] : "?";
    return i < 3 ? out_names3[i] : "?";
}

void leap_split_opts_init(leap_split_opts *o) {
    memset(o, 0, sizeof *o);
    o->by = LEAP_SPLIT_BY_ROW_HASH;
    o->fractions[0] = 0.8;
    o->fractions[1] = 0.1;
    o->fractions[2] = 0.1;
    o->n_fractions = 3;
    o->seed = 1;
}

int leap_split_parse_by(const char *s, leap_split_opts *o, leap_err *err) {
    if (!strcmp(s, "hash")) {
        o->by = LEAP_SPLIT_BY_ROW_HASH;
        o->column = NULL;
        return LEAP_OK;
    }
    if (!strncmp(s, "hash:", 5) && s[5]) {
        o->by = LEAP_SPLIT_BY_COLUMN_HASH;
        o->column = s + 5;
        return LEAP_OK;
    }
    if (!strncmp(s, "time:", 5) && s[5]) {
        o->by = LEAP_SPLIT_BY_TIME;
        o->column = s + 5;
        return LEAP_OK;
    }
    return leap_err_set(err, LEAP_EINVAL,
                        "--by '%s': expected 'hash', 'hash:COLUMN' or 'time:COLUMN'", s);
}

int leap_split_parse_fractions(const char *s, leap_split_opts *o, leap_err *err) {
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return leap_err_set(err, LEAP_EINVAL, "--fractions '%s': too long", s);
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = 0;
    /* strtok would skip empty fields; walk commas by hand so "0.5,,0.5" is refused */
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        double v;
        if (n == LEAP_SPLIT_MAX_OUTPUTS)
            return leap_err_set(err, LEAP_EINVAL, "--fractions '%s': at most %d values", s,
                                LEAP_SPLIT_MAX_OUTPUTS);
        if (leap_parse_double(p, &v) != 0)
            return leap_err_set(err, LEAP_EINVAL, "--fractions '%s': '%s' is not a number", s, p);
        o->fractions[n++] = v;
        if (!comma) break;
        p = comma + 1;
    }
    o->n_fractions = n;
    return LEAP_OK;
}

int leap_split_opts_check(const leap_split_opts *o, leap_err *err) {
    if (!o->input || !*o->input) return leap_err_set(err, LEAP_EINVAL, "no input dataset given");
    if (!o->prefix || !*o->prefix)
        return leap_err_set(err, LEAP_EINVAL, "no output prefix given (-o PREFIX)");
    if (strlen(o->prefix) > 4000) return leap_err_set(err, LEAP_EINVAL, "output prefix too long");
    if (o->n_fractions < 2 || o->n_fractions > LEAP_SPLIT_MAX_OUTPUTS)
        return leap_err_set(err, LEAP_EINVAL,
                            "--fractions: need 2 (train,test) or 3 (train,valid,test) values, "
                            "got %zu",
                            o->n_fractions);
    double sum = 0;
    for (size_t i = 0; i < o->n_fractions; i++) {
        if (!(o->fractions[i] > 0) || !isfinite(o->fractions[i]))
            return leap_err_set(err, LEAP_EINVAL, "--fractions: %s fraction %g is not positive",
                                leap_split_output_name(i, o->n_fractions), o->fractions[i]);
        sum += o->fractions[i];
    }
    if (fabs(sum - 1.0) > 1e-6)
        return leap_err_set(err, LEAP_EINVAL, "--fractions: values sum to %.9g, not 1", sum);
    if ((int)o->by < 0 || o->by >= LEAP_SPLIT_BY_COUNT)
        return leap_err_set(err, LEAP_EINVAL, "unknown split method %d", (int)o->by);
    if (o->by != LEAP_SPLIT_BY_ROW_HASH && (!o->column || !*o->column))
        return leap_err_set(err, LEAP_EINVAL, "--by: this method needs a column name");
    if (o->neg_rate != 0 && !(o->neg_rate > 0 && o->neg_rate <= 1))
        return leap_err_set(err, LEAP_EINVAL, "--neg-rate %g: must be in (0, 1]", o->neg_rate);
    if (o->threads < 0) return leap_err_set(err, LEAP_EINVAL, "threads %d < 0", o->threads);
    return LEAP_OK;
}

/* ---- the run ------------------------------------------------------------ */
typedef struct split_thread {
    leap_rowgroup in;
    leap_rowgroup out[LEAP_SPLIT_MAX_OUTPUTS];
    uint32_t *sel[LEAP_SPLIT_MAX_OUTPUTS]; /* [max rows per group] selected input rows */
    float *wts;                            /* [max rows per group] train weights */
} split_thread;

typedef struct split_slot {
    leap_encoded_rg enc[LEAP_SPLIT_MAX_OUTPUTS];
    uint64_t rows_in, pos_in;
    uint64_t rows[LEAP_SPLIT_MAX_OUTPUTS], pos[LEAP_SPLIT_MAX_OUTPUTS];
    double wsum[LEAP_SPLIT_MAX_OUTPUTS], wpos[LEAP_SPLIT_MAX_OUTPUTS];
    leap_err err;
} split_slot;

typedef struct split_ctx {
    const leap_split_opts *o;
    leap_dataset *ds;
    const leap_schema *in_s;
    size_t n_out;
    double cum[LEAP_SPLIT_MAX_OUTPUTS];
    leap_schema out_s[LEAP_SPLIT_MAX_OUTPUTS];
    leap_column_def *train_cols; /* [in n_cols + 1] when a weight column is appended */
    int key_col, label_col, in_weight_col;
    int train_weight_col; /* weight column of the train output, -1 when none is written */
    uint64_t seed_split, seed_neg;
    uint64_t *rg_start; /* [n_rg] global index of each group's first row */
    size_t max_rows;
    /* TIME: keys[N] in row order; a row goes below cut s when (key, row) < (cut_key, cut_row) */
    int64_t *keys;
    int64_t cut_key[LEAP_SPLIT_MAX_OUTPUTS - 1];
    uint64_t cut_row[LEAP_SPLIT_MAX_OUTPUTS - 1];
    split_thread *th; /* [n_threads] */
    int n_threads;
    split_slot *slots; /* [window] */
    size_t window, win_start;
    uint8_t *want; /* [n_cols] column mask for the time pass */
    leap_dataset_writer *w[LEAP_SPLIT_MAX_OUTPUTS];
} split_ctx;

static double unit(uint64_t h) { return (double)(h >> 11) * (1.0 / 9007199254740992.0); }

static uint32_t f32_bits(float f) {
    if (f == 0) f = 0;               /* -0 and +0 are the same key */
    if (isnan(f)) return 0x7fc00000; /* every NaN is the same key (missing) */
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* Order-preserving int64 key of a float; NaN (missing) sorts first. */
static int64_t f32_order_key(float f) {
    if (isnan(f)) return INT64_MIN;
    int32_t b = (int32_t)f32_bits(f);
    return b >= 0 ? b : (int32_t)(b ^ 0x7fffffff);
}

static int64_t time_key(const leap_rowgroup *rg, int c, size_t i) {
    return rg->types[c] == LEAP_COL_TIMESTAMP ? rg->cols[c].i64[i]
                                              : f32_order_key(rg->cols[c].f32[i]);
}

static size_t assign(const split_ctx *x, const leap_rowgroup *rg, size_t i, uint64_t row) {
    size_t last = x->n_out - 1;
    double u;
    switch (x->o->by) {
    case LEAP_SPLIT_BY_TIME: {
        int64_t k = time_key(rg, x->key_col, i);
        for (size_t s = 0; s < last; s++)
            if (k < x->cut_key[s] || (k == x->cut_key[s] && row < x->cut_row[s])) return s;
        return last;
    }
    case LEAP_SPLIT_BY_COLUMN_HASH: {
        int c = x->key_col;
        uint64_t key;
        switch (rg->types[c]) {
        case LEAP_COL_CATEGORICAL: key = rg->cols[c].u64[i]; break;
        case LEAP_COL_TIMESTAMP: key = (uint64_t)rg->cols[c].i64[i]; break;
        default: key = f32_bits(rg->cols[c].f32[i]);
        }
        u = unit(leap_mix64(x->seed_split ^ 0xc011c011c011c011ULL, key));
        break;
    }
    default: u = unit(leap_mix64(x->seed_split, row));
    }
    for (size_t s = 0; s < last; s++)
        if (u < x->cum[s]) return s;
    return last;
}

/* Copies rows sel[0..n) of in into out (out's first in->n_cols columns). */
static int gather(const leap_rowgroup *in, const uint32_t *sel, size_t n, leap_rowgroup *out) {
    if (leap_rowgroup_reserve(out, n, 0)) return LEAP_ENOMEM;
    for (size_t c = 0; c < in->n_cols; c++) {
        const leap_column *a = &in->cols[c];
        leap_column *b = &out->cols[c];
        switch (in->types[c]) {
        case LEAP_COL_LABEL:
        case LEAP_COL_WEIGHT:
        case LEAP_COL_NUMERIC:
            for (size_t j = 0; j < n; j++)
                b->f32[j] = a->f32[sel[j]];
            break;
        case LEAP_COL_CATEGORICAL:
            for (size_t j = 0; j < n; j++)
                b->u64[j] = a->u64[sel[j]];
            break;
        case LEAP_COL_TIMESTAMP:
            for (size_t j = 0; j < n; j++)
                b->i64[j] = a->i64[sel[j]];
            break;
        case LEAP_COL_MULTI_CATEGORICAL: {
            size_t nv = 0;
            for (size_t j = 0; j < n; j++)
                nv += a->offsets[sel[j] + 1] - a->offsets[sel[j]];
            if (nv > UINT32_MAX) return LEAP_ENOMEM;
            /* grow this column's values only (reserve grows every multi column) */
            if (nv > b->vcap || !b->u64) {
                leap_rowgroup one = *out;
                one.n_cols = 1;
                one.types = &out->types[c];
                one.weighted = &out->weighted[c];
                one.cols = b;
                if (leap_rowgroup_reserve(&one, n, nv)) return LEAP_ENOMEM;
            }
            uint32_t o = 0;
            b->offsets[0] = 0;
            for (size_t j = 0; j < n; j++) {
                uint32_t s0 = a->offsets[sel[j]], s1 = a->offsets[sel[j] + 1];
                memcpy(b->u64 + o, a->u64 + s0, (size_t)(s1 - s0) * 8);
                if (in->weighted[c]) memcpy(b->vw + o, a->vw + s0, (size_t)(s1 - s0) * 4);
                o += s1 - s0;
                b->offsets[j + 1] = o;
            }
            break;
        }
        default: return LEAP_EINVAL;
        }
    }
    out->n_rows = n;
    return LEAP_OK;
}

static int split_task(void *vctx, size_t task, int thread) {
    split_ctx *x = vctx;
    split_slot *sl = &x->slots[task];
    split_thread *th = &x->th[thread];
    size_t g = x->win_start + task;
    int rc = leap_dataset_read_row_group(x->ds, g, &th->in, &sl->err);
    if (rc) return rc;
    const leap_rowgroup *in = &th->in;
    size_t n = in->n_rows, cnt[LEAP_SPLIT_MAX_OUTPUTS] = {0};
    uint64_t base = x->rg_start[g];
    const float *label = x->label_col >= 0 ? in->cols[x->label_col].f32 : NULL;
    const float *w_in = x->in_weight_col >= 0 ? in->cols[x->in_weight_col].f32 : NULL;
    double R = x->o->neg_rate, inv_r = R > 0 ? 1.0 / R : 1.0;
    memset(sl->rows, 0, sizeof sl->rows);
    memset(sl->pos, 0, sizeof sl->pos);
    memset(sl->wsum, 0, sizeof sl->wsum);
    memset(sl->wpos, 0, sizeof sl->wpos);
    sl->rows_in = n;
    sl->pos_in = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t row = base + i;
        int pos = label && label[i] > 0.5f;
        sl->pos_in += pos;
        size_t s = assign(x, in, i, row);
        double w = w_in ? w_in[i] : 1.0;
        if (s == 0 && R > 0 && !pos) {
            if (!(unit(leap_mix64(x->seed_neg, row)) < R)) continue;
            w *= inv_r;
        }
        if (s == 0 && x->train_weight_col >= 0) th->wts[cnt[0]] = (float)w;
        th->sel[s][cnt[s]++] = (uint32_t)i;
        sl->rows[s]++;
        sl->pos[s] += pos;
        sl->wsum[s] += w;
        sl->wpos[s] += pos ? w : 0;
    }
    for (size_t s = 0; s < x->n_out; s++) {
        leap_rowgroup *out = &th->out[s];
        if (gather(in, th->sel[s], cnt[s], out))
            return leap_err_set(&sl->err, LEAP_ENOMEM, "out of memory");
        if (s == 0 && x->train_weight_col >= 0)
            memcpy(out->cols[x->train_weight_col].f32, th->wts, cnt[0] * sizeof(float));
        rc = leap_dataset_encode_row_group(x->w[s], out, &sl->enc[s], &sl->err);
        if (rc) return rc;
    }
    return LEAP_OK;
}

/* Time pass, one task per row group: keys[rg_start[g] + i]. */
static int time_task(void *vctx, size_t g, int thread) {
    split_ctx *x = vctx;
    split_thread *th = &x->th[thread];
    int rc = leap__dataset_read_columns(x->ds, g, &th->in, x->want, &x->slots[thread].err);
    if (rc) return rc;
    for (size_t i = 0; i < th->in.n_rows; i++)
        x->keys[x->rg_start[g] + i] = time_key(&th->in, x->key_col, i);
    return LEAP_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int first_slot_error(split_ctx *x, size_t n, int rc, leap_err *err) {
    for (size_t i = 0; i < n; i++)
        if (x->slots[i].err.status) {
            *err = x->slots[i].err;
            return x->slots[i].err.status;
        }
    return leap_err_set(err, rc, "%s: %s", x->o->input, leap_strerror(rc));
}

static int find_time_cuts(split_ctx *x, leap_err *err) {
    uint64_t N = leap_dataset_num_rows(x->ds);
    size_t nc = x->in_s->n_cols;
    for (size_t s = 0; s + 1 < x->n_out; s++) {
        x->cut_key[s] = INT64_MAX;
        x->cut_row[s] = UINT64_MAX;
    }
    if (N == 0) return LEAP_OK;
    x->keys = malloc(N * sizeof *x->keys);
    int64_t *sorted = malloc(N * sizeof *sorted);
    x->want = calloc(nc, 1);
    if (!x->keys || !sorted || !x->want) {
        free(sorted);
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory for %llu time values", x->o->input,
                            (unsigned long long)N);
    }
    x->want[x->key_col] = 1;
    size_t n_rg = leap_dataset_num_row_groups(x->ds);
    int rc = leap_parallel_for(x->n_threads, n_rg, time_task, x);
    if (rc) {
        free(sorted);
        return first_slot_error(x, (size_t)x->n_threads, rc, err);
    }
    memcpy(sorted, x->keys, N * sizeof *sorted);
    qsort(sorted, N, sizeof *sorted, cmp_i64);
    for (size_t s = 0; s + 1 < x->n_out; s++) {
        double k_d = floor(x->cum[s] * (double)N + 0.5);
        uint64_t k = k_d >= (double)N ? N : (uint64_t)k_d;
        if (k >= N) continue; /* everything goes below this cut */
        int64_t t = sorted[k];
        uint64_t lo = 0, hi = k; /* m = number of keys < t */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (sorted[mid] < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint64_t need = k - lo, seen = 0;
        for (uint64_t r = 0; r < N; r++)
            if (x->keys[r] == t && seen++ == need) {
                x->cut_key[s] = t;
                x->cut_row[s] = r;
                break;
            }
    }
    free(sorted);
    return LEAP_OK;
}

static void describe(const split_ctx *x, char *buf, size_t len) {
    const leap_split_opts *o = x->o;
    char by[128];
    if (o->by == LEAP_SPLIT_BY_ROW_HASH)
        snprintf(by, sizeof by, "hash");
    else
        snprintf(by, sizeof by, "%s:%s", o->by == LEAP_SPLIT_BY_TIME ? "time" : "hash", o->column);
    int k = snprintf(buf, len, "%s seed=%llu fractions=", by, (unsigned long long)o->seed);
    for (size_t i = 0; i < o->n_fractions && k > 0 && (size_t)k < len; i++)
        k += snprintf(buf + k, len - (size_t)k, "%s%g", i ? "," : "", o->fractions[i]);
}

static int make_writers(split_ctx *x, leap_split_report *rep, leap_err *err) {
    const leap_split_opts *o = x->o;
    char how[256], val[512], rate[64];
    describe(x, how, sizeof how);
    for (size_t s = 0; s < x->n_out; s++) {
        const char *name = leap_split_output_name(s, x->n_out);
        snprintf(rep->paths[s], sizeof rep->paths[s], "%s.%s.lds", o->prefix, name);
        leap_dataset_write_opts wo = {.zstd_level = o->zstd_level};
        int rc = leap_dataset_writer_create(rep->paths[s], &x->out_s[s], &wo, &x->w[s], err);
        if (rc) return rc;
        int bad = 0;
        for (size_t i = 0; i < leap_dataset_meta_count(x->ds); i++) {
            const char *k, *v;
            leap_dataset_meta_at(x->ds, i, &k, &v);
            bad |= leap_dataset_writer_set_meta(x->w[s], k, v);
        }
        snprintf(val, sizeof val, "%s of %s", name, how);
        bad |= leap_dataset_writer_set_meta(x->w[s], "split", val);
        if (s == 0 && o->neg_rate > 0) {
            double r = o->neg_rate, r0;
            const char *prev = leap_dataset_meta_get(x->ds, "neg_sample_rate");
            if (prev && leap_parse_double(prev, &r0) == 0 && r0 > 0 && r0 <= 1) r *= r0;
            snprintf(rate, sizeof rate, "%.17g", r);
            bad |= leap_dataset_writer_set_meta(x->w[s], "neg_sample_rate", rate);
        }
        if (bad) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", rep->paths[s]);
        rc = leap__dataset_copy_dicts(x->ds, x->w[s], err);
        if (rc) return rc;
    }
    return LEAP_OK;
}

static int resolve_columns(split_ctx *x, leap_err *err) {
    const leap_split_opts *o = x->o;
    const leap_schema *s = x->in_s;
    x->key_col = -1;
    if (o->by != LEAP_SPLIT_BY_ROW_HASH) {
        x->key_col = leap_schema_find(s, o->column);
        if (x->key_col < 0)
            return leap_err_set(err, LEAP_EINVAL, "%s: no column named '%s'", o->input, o->column);
        leap_col_type t = s->cols[x->key_col].type;
        if (o->by == LEAP_SPLIT_BY_TIME && t != LEAP_COL_TIMESTAMP && t != LEAP_COL_NUMERIC)
            return leap_err_set(err, LEAP_EINVAL,
                                "%s: column '%s' is %s; time splits need a timestamp or numeric "
                                "column",
                                o->input, o->column, leap_col_type_name(t));
        if (t == LEAP_COL_MULTI_CATEGORICAL)
            return leap_err_set(err, LEAP_EINVAL,
                                "%s: column '%s' is multi_categorical; hash splits need a single "
                                "value per row",
                                o->input, o->column);
    }
    x->label_col = leap_schema_find_type(s, LEAP_COL_LABEL);
    x->in_weight_col = leap_schema_find_type(s, LEAP_COL_WEIGHT);
    x->train_weight_col = -1;
    for (size_t k = 0; k < x->n_out; k++)
        x->out_s[k] = *s;
    if (o->neg_rate > 0) {
        if (x->label_col < 0)
            return leap_err_set(err, LEAP_EINVAL, "%s: --neg-rate needs a label column", o->input);
        if (x->in_weight_col >= 0) {
            x->train_weight_col = x->in_weight_col;
        } else {
            int taken = leap_schema_find(s, "weight");
            if (taken >= 0)
                return leap_err_set(err, LEAP_EINVAL,
                                    "%s: cannot add a 'weight' column: a %s column has that name",
                                    o->input, leap_col_type_name(s->cols[taken].type));
            x->train_cols = calloc(s->n_cols + 1, sizeof *x->train_cols);
            if (!x->train_cols) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
            memcpy(x->train_cols, s->cols, s->n_cols * sizeof *s->cols);
            snprintf(x->train_cols[s->n_cols].name, LEAP_NAME_MAX, "weight");
            x->train_cols[s->n_cols].type = LEAP_COL_WEIGHT;
            x->out_s[0].n_cols = s->n_cols + 1;
            x->out_s[0].cols = x->train_cols;
            x->train_weight_col = (int)s->n_cols;
        }
    }
    return LEAP_OK;
}

static int setup_threads(split_ctx *x, leap_err *err) {
    size_t n_rg = leap_dataset_num_row_groups(x->ds);
    x->rg_start = calloc(n_rg + 1, sizeof *x->rg_start);
    if (!x->rg_start) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    for (size_t g = 0; g < n_rg; g++) {
        size_t r = leap_dataset_row_group_rows(x->ds, g);
        x->rg_start[g + 1] = x->rg_start[g] + r;
        if (r > x->max_rows) x->max_rows = r;
    }
    x->n_threads = x->o->threads > 0 ? x->o->threads : leap_num_cpus();
    x->window = (size_t)x->n_threads * 2; /* bounds memory: 2 encoded groups per thread */
    x->th = calloc((size_t)x->n_threads, sizeof *x->th);
    x->slots = calloc(x->window, sizeof *x->slots);
    if (!x->th || !x->slots) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    for (int t = 0; t < x->n_threads; t++) {
        split_thread *th = &x->th[t];
        int bad = leap_rowgroup_init(&th->in, x->in_s);
        for (size_t s = 0; s < x->n_out; s++) {
            bad |= leap_rowgroup_init(&th->out[s], &x->out_s[s]);
            th->sel[s] = malloc((x->max_rows ? x->max_rows : 1) * sizeof(uint32_t));
            bad |= th->sel[s] == NULL;
        }
        th->wts = malloc((x->max_rows ? x->max_rows : 1) * sizeof(float));
        if (bad || !th->wts) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    return LEAP_OK;
}

static void ctx_free(split_ctx *x) {
    if (x->th)
        for (int t = 0; t < x->n_threads; t++) {
            leap_rowgroup_free(&x->th[t].in);
            for (size_t s = 0; s < x->n_out; s++) {
                if (x->th[t].out[s].cols) leap_rowgroup_free(&x->th[t].out[s]);
                free(x->th[t].sel[s]);
            }
            free(x->th[t].wts);
        }
    if (x->slots)
        for (size_t i = 0; i < x->window; i++)
            for (size_t s = 0; s < x->n_out; s++)
                leap_encoded_rg_free(&x->slots[i].enc[s]);
    for (size_t s = 0; s < x->n_out; s++)
        leap_dataset_writer_abort(x->w[s]);
    free(x->th);
    free(x->slots);
    free(x->rg_start);
    free(x->keys);
    free(x->want);
    free(x->train_cols);
    if (x->ds) leap_dataset_close(x->ds);
}

int leap_split(const leap_split_opts *o, leap_split_report *rep, leap_err *err) {
    leap_split_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    int rc = leap_split_opts_check(o, err);
    if (rc) return rc;
    double t0 = leap_now();
    split_ctx x = {.o = o, .n_out = o->n_fractions};
    rep->n_outputs = x.n_out;
    double acc = 0;
    for (size_t s = 0; s < x.n_out; s++)
        x.cum[s] = (acc += o->fractions[s]);
    x.seed_split = leap_mix64(o->seed, 0x73706c6974ULL); /* "split" */
    x.seed_neg = leap_mix64(o->seed, 0x6e6567ULL);       /* "neg" */

    if ((rc = leap_dataset_open(o->input, &x.ds, err))) goto done;
    x.in_s = leap_dataset_schema(x.ds);
    if ((rc = resolve_columns(&x, err))) goto done;
    if ((rc = setup_threads(&x, err))) goto done;
    if (o->by == LEAP_SPLIT_BY_TIME && (rc = find_time_cuts(&x, err))) goto done;
    if ((rc = make_writers(&x, rep, err))) goto done;
    rep->has_label = x.label_col >= 0;

    size_t n_rg = leap_dataset_num_row_groups(x.ds);
    for (x.win_start = 0; x.win_start < n_rg; x.win_start += x.window) {
        size_t cnt = n_rg - x.win_start < x.window ? n_rg - x.win_start : x.window;
        for (size_t i = 0; i < cnt; i++)
            x.slots[i].err = (leap_err){0};
        rc = leap_parallel_for(x.n_threads, cnt, split_task, &x);
        if (rc) {
            rc = first_slot_error(&x, cnt, rc, err);
            goto done;
        }
        for (size_t i = 0; i < cnt; i++) {
            split_slot *sl = &x.slots[i];
            rep->rows_in += sl->rows_in;
            rep->positives_in += sl->pos_in;
            for (size_t s = 0; s < x.n_out; s++) {
                if ((rc = leap_dataset_writer_add_encoded(x.w[s], &sl->enc[s], err))) goto done;
                rep->rows[s] += sl->rows[s];
                rep->positives[s] += sl->pos[s];
                rep->weight_sum[s] += sl->wsum[s];
                rep->weighted_positives[s] += sl->wpos[s];
            }
        }
    }
    /* commit all; if one fails, remove the ones already in place */
    for (size_t s = 0; s < x.n_out; s++) {
        leap_dataset_writer *w = x.w[s];
        x.w[s] = NULL;
        rc = leap_dataset_writer_commit(w, err);
        if (rc) {
            for (size_t k = 0; k < s; k++)
                unlink(rep->paths[k]);
            goto done;
        }
    }
done:
    ctx_free(&x);
    rep->seconds = leap_now() - t0;
    return rc;
}
