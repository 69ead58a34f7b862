/* test_validate.c — unit tests of src/eval/validate.c: distances against
 * hand-computed values, schema parsing (and its line:col errors), inference
 * from a clean dataset, and one purpose-built dataset per anomaly kind, each
 * checked for the column, the measured value and the bound. Datasets are
 * written with leap_dataset_writer_* into a temporary folder. */
#include "harness.h"
#include "leap/validate.h"

#include <unistd.h>

static char tmpdir[64];

static const char *tpath(const char *name) {
    static char buf[8][128];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_test_validate_XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
    }
    char *b = buf[k++ % 8];
    snprintf(b, 128, "%s/%s", tmpdir, name);
    return b;
}

/* Writes a dataset: label, x (numeric), c (categorical with dictionary).
 * xs[i] NaN = missing; cs[i] NULL = missing. Extra columns are optional:
 * with_extra adds numeric "z" = 1; x_as_cat stores x as a categorical. */
static int write_ds(const char *path, size_t n, const float *xs, const char *const *cs,
                    int with_extra, int x_as_cat) {
    leap_column_def defs[4] = {
        {.name = "label", .type = LEAP_COL_LABEL},
        {.name = "x", .type = x_as_cat ? LEAP_COL_CATEGORICAL : LEAP_COL_NUMERIC},
        {.name = "c", .type = LEAP_COL_CATEGORICAL},
        {.name = "z", .type = LEAP_COL_NUMERIC}};
    leap_schema s = {with_extra ? 4 : 3, defs};
    leap_dataset_writer *w;
    leap_err err = {0};
    if (leap_dataset_writer_create(path, &s, NULL, &w, &err)) return -1;
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &s);
    leap_rowgroup_reserve(&rg, n, 0);
    rg.n_rows = n;
    for (size_t i = 0; i < n; i++) {
        rg.cols[0].f32[i] = (float)(i % 3 == 0);
        if (x_as_cat)
            rg.cols[1].u64[i] = leap_cat_hash("v", 1);
        else
            rg.cols[1].f32[i] = xs[i];
        rg.cols[2].u64[i] = cs[i] ? leap_cat_hash(cs[i], strlen(cs[i])) : 0;
        if (cs[i]) leap_dataset_writer_add_dict(w, 2, rg.cols[2].u64[i], cs[i], strlen(cs[i]));
        if (with_extra) rg.cols[3].f32[i] = 1;
    }
    int rc = leap_dataset_writer_add_row_group(w, &rg, &err);
    leap_rowgroup_free(&rg);
    if (rc) {
        leap_dataset_writer_abort(w);
        return rc;
    }
    return leap_dataset_writer_commit(w, &err);
}

#define N 400
static float xs[N];
static const char *cs[N];
static const char *cats[4] = {"red", "green", "blue", "gray"};

/* A clean base: x uniform-ish in [0, 100), c over 4 values, nothing missing. */
static void base_data(uint64_t seed) {
    leap_rng r = {seed};
    for (size_t i = 0; i < N; i++) {
        xs[i] = (float)(leap_rng_uniform(&r) * 100);
        cs[i] = cats[leap_rng_next(&r) % 4];
    }
}

static const leap_anomaly *find(const leap_validate_report *r, const char *col,
                                leap_anomaly_kind k) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->items[i].column, col) && r->items[i].kind == k) return &r->items[i];
    return NULL;
}

/* Validates data (and baseline, may be NULL) against schema text. */
static int run(const char *data, const char *base, const leap_vschema *vs,
               leap_validate_report *rep) {
    leap_dataset *ds = NULL, *bds = NULL;
    leap_err err = {0};
    int rc = leap_dataset_open(data, &ds, &err);
    if (!rc && base) rc = leap_dataset_open(base, &bds, &err);
    if (!rc) rc = leap_validate_run(ds, bds, vs, 2, rep, &err);
    if (rc) fprintf(stderr, "  validate: %s\n", err.msg);
    if (ds) leap_dataset_close(ds);
    if (bds) leap_dataset_close(bds);
    return rc;
}

static int infer(const char *path, leap_vschema *vs) {
    leap_dataset *ds;
    leap_err err = {0};
    if (leap_dataset_open(path, &ds, &err)) return -1;
    int rc = leap_vschema_infer(ds, 2, vs, &err);
    leap_dataset_close(ds);
    return rc;
}

/* ---- distances against hand-computed values (tolerance 1e-12: closed forms) ---- */
TEST(js_divergence_hand) {
    double p[2] = {1, 0}, q[2] = {0, 1};
    ASSERT_NEAR(leap_js_divergence(p, q, 2), 1.0, 1e-12); /* disjoint: 1 bit */
    ASSERT_NEAR(leap_js_divergence(p, p, 2), 0.0, 1e-12);
    /* p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4);
     * JS = 1/2[1/2 log2(2/3) + 1/2 log2(2)] + 1/2[log2(4/3)] */
    double a[2] = {5, 5}, b[2] = {3, 0};
    double want = 0.5 * (0.5 * log2(0.5 / 0.75) + 0.5 * log2(0.5 / 0.25)) + 0.5 * log2(1 / 0.75);
    ASSERT_NEAR(leap_js_divergence(a, b, 2), want, 1e-12);
    ASSERT_NEAR(want, 0.31127812445913283, 1e-12);
}

TEST(linf_hand) {
    double p[3] = {2, 1, 1}, q[3] = {1, 1, 2}; /* shares .5 .25 .25 vs .25 .25 .5 */
    ASSERT_NEAR(leap_linf_distance(p, q, 3), 0.25, 1e-12);
    double z[3] = {0, 0, 0};
    ASSERT_NEAR(leap_linf_distance(p, z, 3), 0.5, 1e-12);
}

/* ---- parsing ---------------------------------------------------------------- */
TEST(parse_ok_and_roundtrip) {
    const char *y = "version: 1\ncolumns:\n"
                    "  - name: x\n    type: numeric\n    min: 0\n    max: 10\n"
                    "  - {name: c, type: categorical, domain: [\"a\", \"#00000000000000ff\"], "
                    "drift_linf: 0.2}\n";
    leap_vschema vs;
    leap_err err = {0};
    ASSERT_OK(leap_vschema_parse(y, strlen(y), "s.yaml", &vs, &err));
    ASSERT_EQ_INT(vs.n_cols, 2);
    ASSERT_NEAR(vs.cols[0].max, 10, 0);
    ASSERT_TRUE(isnan(vs.cols[0].max_missing_rate));
    ASSERT_EQ_INT(vs.cols[1].n_domain, 2);
    ASSERT_NEAR(vs.cols[1].drift_linf, 0.2, 0);
    /* written and read back: the same schema */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_OK(leap_vschema_write(f, &vs, "test"));
    fclose(f);
    leap_vschema v2;
    ASSERT_OK(leap_vschema_parse(buf, len, "w.yaml", &v2, &err));
    ASSERT_EQ_INT(v2.n_cols, 2);
    ASSERT_NEAR(v2.cols[0].min, 0, 0);
    ASSERT_TRUE(!strcmp(v2.cols[1].domain[1], "#00000000000000ff"));
    free(buf);
    leap_vschema_free(&v2);
    leap_vschema_free(&vs);
}

TEST(parse_errors_have_line_col) {
    struct {
        const char *y, *want;
    } cases[] = {
        {"version: 1\ncolumns:\n  - name: x\n    type: numeric\n    colour: red\n",
         "s.yaml:5:5: unknown key 'colour'"},
        {"version: 1\ncolumns:\n  - name: x\n    type: numeric\n    min: abc\n",
         "s.yaml:5:5: column 'x': min must be a number"},
        {"columns:\n  - name: x\n    type: numeric\n  - name: y\n    type: floaty\n",
         "s.yaml:5:5: column 'y': unknown type 'floaty'"},
        {"columns:\n  - name: c\n    type: categorical\n    max_missing_rate: 2\n",
         "s.yaml:4:5: column 'c': max_missing_rate must be in [0, 1]"},
        {"columns:\n  - name: c\n    type: categorical\n    required: maybe\n",
         "s.yaml:4:5: column 'c': required must be true or false"},
        {"columns:\n  - name: c\n    type: categorical\n    min: 1\n", "s.yaml:4:5: column 'c'"},
        {"columns:\n  - {name: a, type: numeric}\n  - {name: a, type: numeric}\n", "listed twice"},
        {"columns: [\n", "s.yaml:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        leap_vschema vs;
        leap_err err = {0};
        int rc = leap_vschema_parse(cases[i].y, strlen(cases[i].y), "s.yaml", &vs, &err);
        leap_vschema_free(&vs);
        ASSERT_EQ_INT(rc, LEAP_EPARSE);
        ASSERT_STR_CONTAINS(err.msg, cases[i].want);
    }
}

/* ---- inference + a clean split ------------------------------------------------ */
TEST(infer_then_clean_split) {
    base_data(1);
    ASSERT_OK(write_ds(tpath("a.lds"), N / 2, xs, cs, 0, 0));
    ASSERT_OK(write_ds(tpath("b.lds"), N / 2, xs + N / 2, cs + N / 2, 0, 0));
    leap_vschema vs;
    ASSERT_OK(infer(tpath("a.lds"), &vs));
    ASSERT_EQ_INT(vs.n_cols, 3);
    ASSERT_EQ_INT(vs.cols[1].required, 1);
    ASSERT_NEAR(vs.cols[1].max_missing_rate, 0.01, 0);
    ASSERT_TRUE(vs.cols[1].min < 1 && vs.cols[1].max > 99);
    ASSERT_EQ_INT(vs.cols[2].has_domain, 1);
    ASSERT_EQ_INT(vs.cols[2].n_domain, 4); /* dictionary texts */
    int seen_red = 0;
    for (size_t i = 0; i < 4; i++)
        seen_red |= !strcmp(vs.cols[2].domain[i], "red");
    ASSERT_TRUE(seen_red);
    leap_validate_report rep;
    ASSERT_OK(run(tpath("b.lds"), tpath("a.lds"), &vs, &rep));
    for (size_t i = 0; i < rep.n; i++)
        fprintf(stderr, "  unexpected: %s %s %s\n", rep.items[i].column,
                leap_anomaly_kind_name(rep.items[i].kind), rep.items[i].measured);
    ASSERT_EQ_INT(rep.n, 0);
    leap_validate_report_free(&rep);
    leap_vschema_free(&vs);
}

/* ---- one dataset per anomaly kind ------------------------------------------------ */
TEST(each_anomaly_kind) {
    base_data(2);
    ASSERT_OK(write_ds(tpath("clean.lds"), N, xs, cs, 0, 0));
    leap_vschema vs;
    ASSERT_OK(infer(tpath("clean.lds"), &vs));
    leap_validate_report rep;
    const leap_anomaly *a;

    /* extra column z, and x stored as categorical: type mismatch */
    ASSERT_OK(write_ds(tpath("extra.lds"), N, xs, cs, 1, 1));
    ASSERT_OK(run(tpath("extra.lds"), NULL, &vs, &rep));
    ASSERT_TRUE(find(&rep, "z", LEAP_ANOMALY_EXTRA_COLUMN) != NULL);
    ASSERT_TRUE((a = find(&rep, "x", LEAP_ANOMALY_TYPE_MISMATCH)) != NULL);
    ASSERT_STR_CONTAINS(a->measured, "categorical");
    ASSERT_STR_CONTAINS(a->limit, "numeric");
    leap_validate_report_free(&rep);

    /* missing column: a schema column the data lacks */
    snprintf(vs.cols[0].name, sizeof vs.cols[0].name, "%s", "clicked");
    ASSERT_OK(run(tpath("clean.lds"), NULL, &vs, &rep));
    ASSERT_TRUE(find(&rep, "clicked", LEAP_ANOMALY_MISSING_COLUMN) != NULL);
    ASSERT_TRUE(find(&rep, "label", LEAP_ANOMALY_EXTRA_COLUMN) != NULL);
    ASSERT_EQ_INT(rep.n, 2);
    leap_validate_report_free(&rep);
    snprintf(vs.cols[0].name, sizeof vs.cols[0].name, "%s", "label");

    /* missing values: 100 of 400 x missing -> rate 0.25 vs bound 0.01 */
    float x2[N];
    const char *c2[N];
    memcpy(x2, xs, sizeof x2);
    memcpy(c2, cs, sizeof c2);
    for (size_t i = 0; i < 100; i++)
        x2[i * 4] = NAN;
    ASSERT_OK(write_ds(tpath("miss.lds"), N, x2, cs, 0, 0));
    ASSERT_OK(run(tpath("miss.lds"), NULL, &vs, &rep));
    ASSERT_TRUE((a = find(&rep, "x", LEAP_ANOMALY_MISSING_RATE)) != NULL);
    ASSERT_NEAR(a->value, 0.25, 1e-12);
    ASSERT_NEAR(a->bound, 0.01, 0);
    ASSERT_EQ_U64(a->count, 100);
    ASSERT_TRUE(find(&rep, "x", LEAP_ANOMALY_MISSING_VALUES) != NULL);
    leap_validate_report_free(&rep);

    /* out of range: 3 values at -500 and 5 at 1000; exact counts */
    memcpy(x2, xs, sizeof x2);
    for (size_t i = 0; i < 3; i++)
        x2[i] = -500;
    for (size_t i = 10; i < 15; i++)
        x2[i] = 1000;
    ASSERT_OK(write_ds(tpath("range.lds"), N, x2, cs, 0, 0));
    ASSERT_OK(run(tpath("range.lds"), NULL, &vs, &rep));
    ASSERT_TRUE((a = find(&rep, "x", LEAP_ANOMALY_BELOW_MIN)) != NULL);
    ASSERT_EQ_U64(a->count, 3);
    ASSERT_NEAR(a->value, -500, 0);
    ASSERT_NEAR(a->bound, vs.cols[1].min, 0);
    ASSERT_TRUE((a = find(&rep, "x", LEAP_ANOMALY_ABOVE_MAX)) != NULL);
    ASSERT_EQ_U64(a->count, 5);
    ASSERT_NEAR(a->value, 1000, 0);
    ASSERT_STR_CONTAINS(a->measured, "5 values above");
    leap_validate_report_free(&rep);

    /* out of domain: 40 of 400 values "purple" */
    for (size_t i = 0; i < 40; i++)
        c2[i] = "purple";
    ASSERT_OK(write_ds(tpath("dom.lds"), N, xs, c2, 0, 0));
    ASSERT_OK(run(tpath("dom.lds"), NULL, &vs, &rep));
    ASSERT_TRUE((a = find(&rep, "c", LEAP_ANOMALY_OUT_OF_DOMAIN)) != NULL);
    ASSERT_EQ_U64(a->count, 40);
    ASSERT_NEAR(a->value, 0.1, 1e-12);
    ASSERT_STR_CONTAINS(a->measured, "purple");
    leap_validate_report_free(&rep);

    /* new values vs the baseline (no domain, max_new_rate 0.05): 10% new */
    vs.cols[2].has_domain = 0;
    vs.cols[2].max_new_rate = 0.05;
    ASSERT_OK(run(tpath("dom.lds"), tpath("clean.lds"), &vs, &rep));
    ASSERT_TRUE((a = find(&rep, "c", LEAP_ANOMALY_NEW_VALUES)) != NULL);
    ASSERT_NEAR(a->value, 0.1, 1e-12);
    ASSERT_NEAR(a->bound, 0.05, 0);
    leap_validate_report_free(&rep);
    leap_vschema_free(&vs);
}

/* Drift: hand-built distributions with known L-inf and JS. */
TEST(drift_kinds) {
    float x1[N], x2[N];
    const char *c1[N], *c2[N];
    for (size_t i = 0; i < N; i++) {
        x1[i] = (float)(i % 100);                /* uniform over 0..99 */
        x2[i] = (float)(i % 100 < 50 ? 10 : 90); /* all mass on two values */
        c1[i] = cats[i % 2];                     /* red 1/2, green 1/2 */
        c2[i] = i % 4 == 0 ? "green" : "red";    /* red 3/4, green 1/4 */
    }
    ASSERT_OK(write_ds(tpath("d1.lds"), N, x1, c1, 0, 0));
    ASSERT_OK(write_ds(tpath("d2.lds"), N, x2, c2, 0, 0));
    leap_vschema vs;
    ASSERT_OK(infer(tpath("d1.lds"), &vs));
    leap_validate_report rep;
    ASSERT_OK(run(tpath("d1.lds"), tpath("d1.lds"), &vs, &rep));
    ASSERT_EQ_INT(rep.n, 0); /* no drift from itself */
    leap_validate_report_free(&rep);
    ASSERT_OK(run(tpath("d2.lds"), tpath("d1.lds"), &vs, &rep));
    const leap_anomaly *a;
    ASSERT_TRUE((a = find(&rep, "c", LEAP_ANOMALY_DRIFT_LINF)) != NULL);
    ASSERT_NEAR(a->value, 0.25, 1e-12); /* |3/4 - 1/2| */
    ASSERT_NEAR(a->bound, 0.1, 0);
    ASSERT_TRUE((a = find(&rep, "x", LEAP_ANOMALY_DRIFT_JS)) != NULL);
    ASSERT_TRUE(a->value > 0.5 && a->value <= 1);
    ASSERT_TRUE((a = find(&rep, "label", LEAP_ANOMALY_DRIFT_JS)) == NULL); /* same labels */
    leap_validate_report_free(&rep);
    leap_vschema_free(&vs);
}

__attribute__((destructor)) static void cleanup(void) {
    if (!tmpdir[0]) return;
    const char *names[] = {"a.lds",     "b.lds",   "clean.lds", "extra.lds", "miss.lds",
                           "range.lds", "dom.lds", "d1.lds",    "d2.lds"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tpath(names[i]));
    rmdir(tmpdir);
}
