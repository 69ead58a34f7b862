/* Unit tests for transform specs: parse errors with file:line:col, schema
 * checks, the analyze pass against brute-force references (exact vocabulary
 * counts and order, quantile rank errors within the sketch's bound,
 * two-pass mean/std, modes), the applied indices of every op, independence
 * from the thread count, and the fitted state's round trip and refusals. */
#include "harness.h"
#include "leap/bundle.h"
#include "leap/transform.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- parse errors ---------------------------------------------------------- */
static void expect_parse_error(const char *yaml, const char *needle) {
    leap_tf_spec *s = NULL;
    leap_err err = {0};
    int rc = leap_tf_spec_parse(yaml, strlen(yaml), "t.yaml", &s, &err);
    if (rc == 0) {
        leap_tf_spec_free(s);
        TH_FAIL("accepted: %s", yaml);
    }
    ASSERT_STR_CONTAINS(err.msg, needle);
}

TEST(spec_errors_name_line_and_column) {
    expect_parse_error("features:\n  - source: x\n    opz: [log1p]\n",
                       "t.yaml:3:5: feature: unknown key 'opz'");
    expect_parse_error("features:\n  - source: x\n    ops: [log2]\n",
                       "t.yaml:3:11: unknown op 'log2'");
    expect_parse_error("features:\n  - source: x\n    ops: [bucketize: {quantiles: 4}, log1p]\n",
                       "t.yaml:3:38: no op may follow bucketize");
    expect_parse_error("features:\n  - source: x\n    ops: [bucketize: {quantiles: 4, "
                       "boundaries: [1]}]\n",
                       "t.yaml:3:22: bucketize: give exactly one of quantiles or boundaries");
    expect_parse_error("features:\n  - source: x\n    ops: [clip: {lo: 5, hi: 1}]\n",
                       "clip: lo 5 is above hi 1");
    expect_parse_error("features:\n  - source: x\n    ops: [bucketize: {boundaries: [1, 1]}]\n",
                       "t.yaml:3:39: bucketize: boundaries must be strictly increasing");
    expect_parse_error("features:\n  - {name: ab, cross: [a, b]}\n",
                       "t.yaml:2:5: a cross needs buckets");
    expect_parse_error("features:\n  - {name: ab, cross: [a, b], buckets: 10, ops: [log1p]}\n",
                       "a cross takes no ops");
    expect_parse_error("features:\n  - {name: ab, cross: [a, z], buckets: 10}\n  - {source: z, "
                       "ops: [hash: 5]}\n",
                       "cross 'ab' uses feature 'z', which must be defined before it");
    expect_parse_error("features:\n  - source: x\n  - source: x\n",
                       "t.yaml:3:13: feature 'x' is defined twice");
    expect_parse_error("features:\n  - source: [a, b]\n    name: c\n", "drop name");
    expect_parse_error("features:\n  - source: x\n    ops: [vocabulary: {top_k: 0}]\n",
                       "vocabulary: top_k must be an integer");
    expect_parse_error("features:\n  - source: x\n    ops: [vocabulary: {capacity: 100}]\n",
                       "capacity applies to mode: approx only");
    expect_parse_error("feature:\n  - source: x\n",
                       "t.yaml:1:1: transform spec: unknown key 'feature'");
    expect_parse_error("features: [\n", "t.yaml:");
    expect_parse_error("", "empty transform spec");
    expect_parse_error(
        "features:\n  - source: x\n    ops: [fill_missing: {value: 1, strategy: mode}]\n",
        "give exactly one of value or strategy");
}

/* ---- a test dataset ---------------------------------------------------------- */
enum { N_ROWS = 60000, RG_ROWS = 7000 };

static double xval(uint64_t r) { /* heavy-tailed, 5% missing */
    leap_rng g = {leap_mix64(7, r)};
    double u = (double)(leap_rng_next(&g) >> 11) / 9007199254740992.0;
    if (u < 0.05) return NAN;
    return floor(3.0 * (pow(1.0 - (u - 0.05) / 0.95, -1.0 / 1.5) - 1.0));
}
static int cval(uint64_t r) { /* Zipf-ish over 400 values, 10% missing (-1) */
    leap_rng g = {leap_mix64(11, r)};
    double u = (double)(leap_rng_next(&g) >> 11) / 9007199254740992.0;
    if (u < 0.1) return -1;
    return (int)(400.0 * pow((u - 0.1) / 0.9, 2.5));
}
static uint64_t chash(int v) {
    char t[16];
    int n = snprintf(t, sizeof t, "v%d", v);
    return leap_cat_hash(t, (size_t)n);
}

static leap_column_def cols[5] = {{"label", LEAP_COL_LABEL, 0},
                                  {"x", LEAP_COL_NUMERIC, 0},
                                  {"c", LEAP_COL_CATEGORICAL, 0},
                                  {"d", LEAP_COL_CATEGORICAL, 0},
                                  {"tags", LEAP_COL_MULTI_CATEGORICAL, 1}};
static const leap_schema schema = {5, cols};

static leap_dataset *make_ds(void) {
    size_t n_rg = (N_ROWS + RG_ROWS - 1) / RG_ROWS;
    leap_rowgroup *rgs = calloc(n_rg, sizeof *rgs);
    for (size_t g = 0; g < n_rg; g++) {
        leap_rowgroup *rg = &rgs[g];
        size_t a = g * RG_ROWS, e = a + RG_ROWS < N_ROWS ? a + RG_ROWS : N_ROWS;
        leap_rowgroup_init(rg, &schema);
        leap_rowgroup_reserve(rg, e - a, 3 * (e - a));
        rg->n_rows = e - a;
        uint32_t k = 0;
        for (size_t r = a; r < e; r++) {
            size_t i = r - a;
            int c = cval(r);
            rg->cols[0].f32[i] = (float)(r % 3 == 0);
            rg->cols[1].f32[i] = (float)xval(r);
            rg->cols[2].u64[i] = c < 0 ? 0 : chash(c);
            rg->cols[3].u64[i] = chash((int)(r % 7));
            rg->cols[4].offsets[i] = k;
            for (size_t t = 0; t < r % 3; t++) { /* 0..2 tags */
                rg->cols[4].u64[k] = chash((int)((r + t) % 5));
                rg->cols[4].vw[k] = 0.5f + (float)t;
                k++;
            }
        }
        rg->cols[4].offsets[e - a] = k;
    }
    leap_dataset *ds = NULL;
    leap_err err = {0};
    if (leap_dataset_open_memory("mem", &schema, rgs, n_rg, NULL, NULL, 0, &ds, &err))
        fprintf(stderr, "open_memory: %s\n", err.msg);
    return ds;
}

static const char *SPEC =
    "features:\n"
    "  - name: xs\n"
    "    source: x\n"
    "    ops: [clip: {lo: 0, hi: 500}, log1p, standardize]\n"
    "  - name: xq\n"
    "    source: x\n"
    "    ops: [bucketize: {quantiles: 16}]\n"
    "  - name: xb\n"
    "    source: x\n"
    "    ops: [fill_missing: {value: -3}, bucketize: {boundaries: [0, 1, 10]}]\n"
    "  - name: cv\n"
    "    source: c\n"
    "    ops: [vocabulary: {min_count: 20, top_k: 60, oov_buckets: 3}]\n"
    "    embedding_dim: 8\n"
    "  - name: cm\n"
    "    source: c\n"
    "    ops: [fill_missing: mode, hash: {buckets: 97}]\n"
    "  - name: xl\n"
    "    source: x\n"
    "    ops: [log_bucket]\n"
    "  - {name: cross, cross: [cv, xq, d], buckets: 1000}\n"
    "  - source: tags\n"
    "    ops: [vocabulary]\n";

static leap_tf_spec *parse(const char *text) {
    leap_tf_spec *s = NULL;
    leap_err err = {0};
    if (leap_tf_spec_parse(text, strlen(text), "spec.yaml", &s, &err))
        fprintf(stderr, "parse: %s\n", err.msg);
    return s;
}

TEST(resolve_refuses_impossible_combinations) {
    const char *bad[][2] = {
        {"features:\n  - source: c\n    ops: [log1p, hash: 4]\n",
         "spec.yaml:3:11: feature 'c': log1p needs a numeric column; 'c' is categorical"},
        {"features:\n  - source: nope\n",
         "spec.yaml:2:13: feature 'nope': column 'nope' is not in mem"},
        {"features:\n  - source: c\n", "categorical column 'c' needs a terminal op"},
        {"features:\n  - {name: k, cross: [x, c], buckets: 9}\n", "column 'x' is numeric"},
        {"features:\n  - source: x\n  - {name: k, cross: [x, c], buckets: 9}\n",
         "feature 'x' is dense"},
        {"features:\n  - source: tags\n    ops: [fill_missing: mode, hash: 3]\n",
         "mode is not defined for multi-valued column 'tags'"},
        {"features:\n  - source: d\n    weights: true\n    ops: [hash: 3]\n",
         "weights: true needs a weighted multi_categorical column"},
        {"features:\n  - source: x\n    ops: [fill_missing: {value: abc}]\n",
         "fill_missing value must be a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leap_tf_spec *s = parse(bad[i][0]);
        ASSERT_TRUE(s != NULL);
        leap_err err = {0};
        ASSERT_TRUE(leap_tf_spec_resolve(s, &schema, "mem", &err) != 0);
        ASSERT_STR_CONTAINS(err.msg, bad[i][1]);
        leap_tf_spec_free(s);
    }
}

static int fit(const char *text, leap_dataset *ds, int threads, leap_featurizer *fz) {
    leap_err err = {0};
    leap_tf_spec *s = parse(text);
    if (!s) return -1;
    int rc = leap_transform_fit(s, ds, threads, NULL, fz, NULL, &err);
    if (rc) fprintf(stderr, "fit: %s\n", err.msg);
    return rc;
}

typedef struct vc {
    uint64_t key, cnt;
} vc;
static int vc_cmp(const void *a, const void *b) {
    const vc *x = a, *y = b;
    if (x->cnt != y->cnt) return x->cnt > y->cnt ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}
static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

TEST(fit_matches_brute_force_and_apply_is_exact) {
    leap_dataset *ds = make_ds();
    ASSERT_TRUE(ds != NULL);
    leap_featurizer fz;
    ASSERT_OK(fit(SPEC, ds, 2, &fz));
    const leap_tf_spec *s = fz.tf;
    ASSERT_EQ_INT(fz.n_fields, 8);
    ASSERT_EQ_INT(fz.fields[0].kind, LEAP_FZ_KIND_DENSE);
    ASSERT_EQ_INT(fz.fields[1].kind, LEAP_FZ_KIND_ORDINAL);
    ASSERT_EQ_INT(fz.fields[3].kind, LEAP_FZ_KIND_CATEGORICAL);
    ASSERT_EQ_INT(fz.fields[3].embedding_dim, 8);
    ASSERT_EQ_INT(fz.fields[7].multi, 1);
    ASSERT_STR_CONTAINS(fz.label, "label");

    /* Brute force over every row. */
    double *xs = malloc(N_ROWS * sizeof *xs), *xq = malloc(N_ROWS * sizeof *xq);
    size_t nq = 0;
    double sum = 0, n = 0;
    uint64_t counts[401] = {0};
    for (uint64_t r = 0; r < N_ROWS; r++) {
        double x = xval(r);
        if (!isnan(x)) {
            double t = log1p(x < 0 ? 0 : (x > 500 ? 500 : x));
            xs[(size_t)n] = t;
            sum += t;
            n++;
            xq[nq++] = x;
        }
        int c = cval(r);
        if (c >= 0) counts[c]++;
    }
    double mean = sum / n, m2 = 0;
    for (size_t i = 0; i < (size_t)n; i++)
        m2 += (xs[i] - mean) * (xs[i] - mean);
    double sd = sqrt(m2 / n);
    const leap_tf_op *st = &s->fields[0].ops[2];
    ASSERT_NEAR(st->mean, mean, 1e-9 * fabs(mean));
    ASSERT_NEAR(st->std, sd, 1e-9 * sd);

    /* Quantile boundaries: each one's true rank within the sketch's bound. */
    qsort(xq, nq, sizeof *xq, dbl_cmp);
    const leap_tf_op *bq = &s->fields[1].ops[0];
    ASSERT_TRUE(bq->n_bounds >= 4 && bq->n_bounds <= 15);
    ASSERT_TRUE(bq->rank_error > 0 && bq->rank_error < 0.02);
    for (uint32_t j = 0; j < bq->n_bounds; j++) {
        double b = bq->bounds[j];
        size_t lo = 0, hi = 0; /* ranks of values < b and <= b */
        while (lo < nq && xq[lo] < b)
            lo++;
        hi = lo;
        while (hi < nq && xq[hi] <= b)
            hi++;
        /* b is the value at some quantile q = i/16; its true rank interval
         * [lo, hi]/nq must come within the bound of one of them. */
        int ok = 0;
        for (int i = 1; i < 16; i++) {
            double q = i / 16.0;
            if (q >= (double)lo / nq - bq->rank_error && q <= (double)hi / nq + bq->rank_error)
                ok = 1;
        }
        if (!ok) TH_FAIL("boundary %u = %g has rank [%zu, %zu] / %zu", j, b, lo, hi, nq);
    }

    /* Vocabulary: same entries, counts and order as a brute-force count. */
    vc ref[400];
    size_t nr = 0;
    for (int c = 0; c < 400; c++)
        if (counts[c] >= 20) ref[nr++] = (vc){chash(c), counts[c]};
    qsort(ref, nr, sizeof *ref, vc_cmp);
    if (nr > 60) nr = 60;
    const leap_tf_op *vo = &s->fields[3].ops[0];
    ASSERT_EQ_INT(vo->vocab.n, nr);
    for (size_t i = 0; i < nr; i++) {
        ASSERT_EQ_U64(vo->vocab.keys[i], ref[i].key);
        ASSERT_EQ_U64(vo->vocab.count[i], ref[i].cnt);
    }
    ASSERT_EQ_INT(fz.fields[3].card, 1 + nr + 3);
    /* Mode: the most frequent category. */
    ASSERT_EQ_U64(s->fields[4].ops[0].fill_cat, ref[0].key);

    /* Apply every field to row group 0 and check each index by hand. */
    leap_err err = {0};
    leap_fz_binding b;
    ASSERT_OK(leap_fz_bind(&fz, &schema, "mem", &b, &err));
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &schema);
    ASSERT_OK(leap_dataset_read_row_group(ds, 0, &rg, &err));
    leap_fbatch fb = {0};
    ASSERT_OK(leap_featurize(&fz, &b, &rg, &fb, &err));
    for (size_t r = 0; r < rg.n_rows; r++) {
        uint32_t k = fb.row_ptr[r];
        double x = xval(r);
        int c = cval(r);
        /* xs: dense */
        if (isnan(x)) {
            ASSERT_EQ_INT(fb.idx[k], fz.fields[0].offset);
            ASSERT_NEAR(fb.val[k], 1.0, 0);
        } else {
            ASSERT_EQ_INT(fb.idx[k], fz.fields[0].offset + 1);
            double t = (log1p(x > 500 ? 500 : x) - st->mean) / st->std;
            ASSERT_NEAR(fb.val[k], (float)t, 0);
        }
        /* xq: 1 + boundaries <= x; missing 0 */
        uint32_t want = 0;
        if (!isnan(x)) {
            want = 1;
            for (uint32_t j = 0; j < bq->n_bounds; j++)
                want += bq->bounds[j] <= (float)x;
        }
        ASSERT_EQ_INT(fb.idx[k + 1] - fz.fields[1].offset, want);
        uint32_t xq_local = want;
        /* xb: fill -3 then [0, 1, 10] */
        double xf = isnan(x) ? -3 : x;
        want = 1 + (xf >= 0) + (xf >= 1) + (xf >= 10);
        ASSERT_EQ_INT(fb.idx[k + 2] - fz.fields[2].offset, want);
        /* cv: vocabulary index, OOV buckets after it, missing 0 */
        uint32_t cv = fb.idx[k + 3] - fz.fields[3].offset;
        if (c < 0) {
            ASSERT_EQ_INT(cv, 0);
        } else {
            size_t pos = nr;
            for (size_t i = 0; i < nr; i++)
                if (ref[i].key == chash(c)) pos = i;
            if (pos < nr)
                ASSERT_EQ_INT(cv, 1 + pos);
            else
                ASSERT_TRUE(cv >= 1 + nr && cv < 1 + nr + 3);
        }
        /* cm: a missing c is filled with the mode, so it hashes like the mode */
        uint32_t cm = fb.idx[k + 4] - fz.fields[4].offset;
        ASSERT_TRUE(cm >= 1 && cm <= 97);
        /* xl: log_bucket ordinal */
        uint32_t xl = fb.idx[k + 5] - fz.fields[5].offset;
        if (isnan(x))
            ASSERT_EQ_INT(xl, 0);
        else if (x <= 2)
            ASSERT_EQ_INT(xl, 1 + (uint32_t)((int)x + 16));
        else
            ASSERT_EQ_INT(xl, 1 + 19 + (uint32_t)floor(log(x) * log(x)));
        /* cross: a function of (cv, xq, d) only */
        uint32_t cr = fb.idx[k + 6] - fz.fields[6].offset;
        ASSERT_TRUE(cr >= 1 && cr <= 1000);
        (void)xq_local;
        /* tags: one entry per tag with its weight, or the missing index */
        uint32_t nt = fb.row_ptr[r + 1] - (k + 7);
        ASSERT_EQ_INT(nt, r % 3 ? r % 3 : 1);
        if (r % 3 == 0) ASSERT_EQ_INT(fb.idx[k + 7], fz.fields[7].offset);
        for (uint32_t t = 0; t < r % 3; t++)
            ASSERT_NEAR(fb.val[k + 7 + t], 0.5 + t, 0);
    }
    /* Rows with equal (cv, xq, d) locals share the cross index. */
    for (size_t r = 1; r < 2000; r++) {
        uint32_t a0 = fb.row_ptr[0], ar = fb.row_ptr[r];
        int same = fb.idx[a0 + 3] == fb.idx[ar + 3] && fb.idx[a0 + 1] == fb.idx[ar + 1] &&
                   rg.cols[3].u64[0] == rg.cols[3].u64[r];
        if (same) ASSERT_EQ_INT(fb.idx[a0 + 6], fb.idx[ar + 6]);
    }
    free(xs);
    free(xq);
    leap_fbatch_free(&fb);
    leap_rowgroup_free(&rg);
    leap_fz_binding_free(&b);
    leap_featurizer_free(&fz);
    leap_dataset_close(ds);
}

static void state_bytes(const leap_featurizer *fz, char **p, size_t *len) {
    FILE *f = open_memstream(p, len);
    leap_featurizer_write(fz, f);
    fclose(f);
}

TEST(fitted_state_does_not_depend_on_threads) {
    leap_dataset *ds = make_ds();
    leap_featurizer a, b;
    ASSERT_OK(fit(SPEC, ds, 1, &a));
    ASSERT_OK(fit(SPEC, ds, 3, &b));
    char *pa, *pb;
    size_t la, lb;
    state_bytes(&a, &pa, &la);
    state_bytes(&b, &pb, &lb);
    ASSERT_EQ_INT(la, lb);
    ASSERT_TRUE(memcmp(pa, pb, la) == 0);
    free(pa);
    free(pb);
    leap_featurizer_free(&a);
    leap_featurizer_free(&b);
    leap_dataset_close(ds);
}

TEST(fitted_state_round_trip_and_refusals) {
    leap_dataset *ds = make_ds();
    leap_featurizer fz, back;
    ASSERT_OK(fit(SPEC, ds, 2, &fz));
    char *p;
    size_t len;
    state_bytes(&fz, &p, &len);
    leap_err err = {0};
    ASSERT_OK(leap_featurizer_parse(&back, p, len, &err));
    char *q;
    size_t ql;
    state_bytes(&back, &q, &ql);
    ASSERT_EQ_INT(ql, len);
    ASSERT_TRUE(memcmp(p, q, len) == 0);
    free(q);
    /* Same features for the same rows. */
    leap_fz_binding b1, b2;
    ASSERT_OK(leap_fz_bind(&fz, &schema, "mem", &b1, &err));
    ASSERT_OK(leap_fz_bind(&back, &schema, "mem", &b2, &err));
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &schema);
    ASSERT_OK(leap_dataset_read_row_group(ds, 3, &rg, &err));
    leap_fbatch f1 = {0}, f2 = {0};
    ASSERT_OK(leap_featurize(&fz, &b1, &rg, &f1, &err));
    ASSERT_OK(leap_featurize(&back, &b2, &rg, &f2, &err));
    ASSERT_EQ_INT(f1.row_ptr[f1.n_rows], f2.row_ptr[f2.n_rows]);
    ASSERT_TRUE(memcmp(f1.idx, f2.idx, f1.row_ptr[f1.n_rows] * 4) == 0);
    ASSERT_TRUE(memcmp(f1.val, f2.val, f1.row_ptr[f1.n_rows] * 4) == 0);
    /* Every truncation is refused (never a crash). */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 50) {
        leap_featurizer t;
        memset(&err, 0, sizeof err);
        if (leap_featurizer_parse(&t, p, cut, &err) == 0) {
            leap_featurizer_free(&t);
            TH_FAIL("truncation at %zu of %zu accepted", cut, len);
        }
    }
    /* .ltf files: checksum catches a flipped byte; the message names the file. */
    char path[] = "/tmp/leap_tf_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ASSERT_OK(leap_transform_save(path, &fz, &err));
    ASSERT_TRUE(leap_transform_probe(path));
    leap_featurizer l;
    ASSERT_OK(leap_transform_load(path, &l, &err));
    leap_featurizer_free(&l);
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    ASSERT_TRUE(leap_transform_load(path, &l, &err) == LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "checksum mismatch");
    ASSERT_STR_CONTAINS(err.msg, path);
    unlink(path);
    free(p);
    leap_fbatch_free(&f1);
    leap_fbatch_free(&f2);
    leap_rowgroup_free(&rg);
    leap_fz_binding_free(&b1);
    leap_fz_binding_free(&b2);
    leap_featurizer_free(&back);
    leap_featurizer_free(&fz);
    leap_dataset_close(ds);
}

TEST(bundle_keeps_the_fitted_transform) {
    leap_dataset *ds = make_ds();
    leap_bundle b;
    memset(&b, 0, sizeof b);
    b.neg_rate = 1.0;
    ASSERT_OK(fit(SPEC, ds, 2, &b.fz));
    leap_err err = {0};
    b.ops = leap_model_find("lr");
    b.opts = calloc(1, b.ops->opts_size);
    leap_opts_defaults(b.ops->opts, b.opts);
    ASSERT_OK(b.ops->create(b.opts, &b.fz, &b.model, &err));
    char path[] = "/tmp/leap_tfb_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ASSERT_OK(leap_bundle_save(path, &b, &err));
    leap_bundle back;
    ASSERT_OK(leap_bundle_load(path, &back, &err));
    ASSERT_TRUE(back.fz.tf != NULL);
    ASSERT_EQ_INT(back.fz.n_buckets, b.fz.n_buckets);
    ASSERT_EQ_INT(back.fz.fields[3].card, b.fz.fields[3].card);
    leap_column_def in[16];
    ASSERT_TRUE(leap_fz_n_inputs(&back.fz) <= 16);
    size_t ni = leap_fz_inputs(&back.fz, in);
    ASSERT_EQ_INT(ni, 5); /* label, x, c, d, tags */
    ASSERT_EQ_INT(in[4].weighted, 1);
    unlink(path);
    leap_bundle_free(&back);
    leap_bundle_free(&b);
    leap_dataset_close(ds);
}
