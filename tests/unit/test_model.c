/* Unit tests for options, the featurizer, the LR model (FTRL hand-worked
 * example) and the model bundle (round trip, corruption, truncation, version). */
#include "harness.h"
#include "leap/bundle.h"
#include "leap/train.h"

#include <unistd.h>

/* A featurizer over 256 buckets with two categorical fields, built by hand. */
static void small_fz(leap_featurizer *fz) {
    leap_column_def cols[3] = {{"label", LEAP_COL_LABEL, 0},
                               {"C1", LEAP_COL_CATEGORICAL, 0},
                               {"C2", LEAP_COL_CATEGORICAL, 0}};
    leap_schema s = {3, cols};
    leap_fz_opts o = {8, 0};
    leap_err err = {0};
    leap_featurizer_init(fz, &o, &s, &err);
}

TEST(options_defaults_set_and_errors) {
    const leap_model_ops *ops = leap_model_find("lr");
    ASSERT_TRUE(ops != NULL);
    char obj[256];
    ASSERT_TRUE(ops->opts_size <= sizeof obj);
    leap_opts_defaults(ops->opts, obj);
    leap_err err = {0};
    ASSERT_OK(leap_opts_set(ops->opts, obj, "alpha", "0.25", &err));
    char buf[64];
    leap_opts_format(leap_opts_find(ops->opts, "alpha"), obj, buf, sizeof buf);
    ASSERT_TRUE(strcmp(buf, "0.25") == 0);
    ASSERT_EQ_INT(leap_opts_set(ops->opts, obj, "alpha", "-1", &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "below the minimum");
    ASSERT_EQ_INT(leap_opts_set(ops->opts, obj, "alpha", "abc", &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'abc' is not a number");
    ASSERT_EQ_INT(leap_opts_set(ops->opts, obj, "optimizer", "sgd", &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "ftrl|adagrad");
    leap_fz_opts fzo;
    leap_opts_defaults(&leap_fz_opt_table, &fzo);
    const leap_opt_table *t[2] = {ops->opts, &leap_fz_opt_table};
    void *objs[2] = {obj, &fzo};
    const char *items[] = {"hash_bits=20", "l2=3"};
    ASSERT_OK(leap_opts_apply(t, objs, 2, items, 2, &err));
    ASSERT_EQ_INT(fzo.hash_bits, 20);
    const char *bad[] = {"hash_bitz=20"};
    ASSERT_EQ_INT(leap_opts_apply(t, objs, 2, bad, 1, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "unknown option 'hash_bitz'");
    const char *range[] = {"hash_bits=40"};
    ASSERT_EQ_INT(leap_opts_apply(t, objs, 2, range, 1, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "above the maximum 30");
}

TEST(log_bucket_matches_criteo_formula) {
    ASSERT_EQ_INT(leap_log_bucket(0), 0);
    ASSERT_EQ_INT(leap_log_bucket(2), 2);
    ASSERT_EQ_INT(leap_log_bucket(-1), -1);
    ASSERT_EQ_INT(leap_log_bucket(3), 1);     /* ln 3 = 1.0986, ^2 = 1.207 */
    ASSERT_EQ_INT(leap_log_bucket(100), 21);  /* ln 100 = 4.605, ^2 = 21.2 */
    ASSERT_EQ_INT(leap_log_bucket(1e6), 190); /* 13.8155^2 = 190.87 */
}

TEST(featurizer_text_round_trip) {
    leap_featurizer fz, back;
    small_fz(&fz);
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    leap_featurizer_write(&fz, f);
    fclose(f);
    leap_err err = {0};
    ASSERT_OK(leap_featurizer_parse(&back, txt, len, &err));
    ASSERT_EQ_INT(back.n_fields, 2);
    ASSERT_EQ_INT(back.n_buckets, 256);
    ASSERT_TRUE(strcmp(back.fields[1].column, "C2") == 0);
    ASSERT_EQ_U64(back.fields[1].seed, fz.fields[1].seed);
    leap_featurizer_free(&back);
    ASSERT_EQ_INT(leap_featurizer_parse(&back, "hash_bits=8\nfield=C1 nope\n", 27, &err),
                  LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "line 2");
    free(txt);
    leap_featurizer_free(&fz);
}

/* FTRL-Proximal (McMahan et al. 2013, Alg. 1) on three hand-made rows; the
 * expected values come from an independent double-precision transcription of
 * the algorithm (alpha 0.1, beta 1, l1 0.1, l2 0.5; the bias is unregularised).
 * Tolerance 2e-6: the model computes in float32. */
TEST(ftrl_matches_hand_worked_example) {
    leap_featurizer fz;
    small_fz(&fz);
    const leap_model_ops *ops = leap_model_find("lr");
    char obj[256];
    leap_opts_defaults(ops->opts, obj);
    leap_err err = {0};
    ASSERT_OK(leap_opts_set(ops->opts, obj, "alpha", "0.1", &err));
    ASSERT_OK(leap_opts_set(ops->opts, obj, "beta", "1", &err));
    ASSERT_OK(leap_opts_set(ops->opts, obj, "l1", "0.1", &err));
    ASSERT_OK(leap_opts_set(ops->opts, obj, "l2", "0.5", &err));
    leap_model *m;
    ASSERT_OK(ops->create(obj, &fz, &m, &err));
    uint32_t row_ptr[4] = {0, 2, 3, 5};
    uint32_t idx[5] = {3, 7, 3, 7, 3};
    float val[5] = {1, 2, 1, 0.5f, 1};
    float label[3] = {1, 0, 1}, weight[3] = {1, 1, 1};
    double sums[2] = {0, 0};
    for (int r = 0; r < 3; r++) {
        uint32_t rp[2] = {0, row_ptr[r + 1] - row_ptr[r]};
        leap_fbatch b = {.n_rows = 1,
                         .row_ptr = rp,
                         .idx = idx + row_ptr[r],
                         .val = val + row_ptr[r],
                         .label = label + r,
                         .weight = weight + r};
        ops->train_batch(m, &b, 0, sums);
    }
    leap_state_seg segs[LEAP_MAX_STATE_SEGS];
    ASSERT_EQ_INT(ops->state(m, segs), 1); /* (z, n) interleaved */
    const float *zn = segs[0].p;
    uint32_t bias = fz.n_buckets;
    ASSERT_NEAR(zn[2 * bias], -0.5565949825367121, 2e-6);
    ASSERT_NEAR(zn[2 * 3], -0.5350548543110715, 2e-6);
    ASSERT_NEAR(zn[2 * 7], -1.260012580530855, 2e-6);
    ASSERT_NEAR(zn[2 * bias + 1], 0.75871093358876, 2e-6);
    ASSERT_NEAR(zn[2 * 7 + 1], 1.0609279569458667, 2e-6);
    /* progressive logloss: rows predicted 0.5, 0.51478, 0.50633 before their updates */
    double expect = -log(0.5) - log(1 - 0.5147806385299403) - log(0.5063282185667617);
    ASSERT_NEAR(sums[0], expect, 1e-5);
    ASSERT_NEAR(sums[1], 3, 0);
    ops->refresh(m);
    uint32_t rp[2] = {0, 2};
    uint32_t qi[2] = {3, 7};
    float qv[2] = {1, 1}, ql = 0, qw = 1, p;
    leap_fbatch q = {.n_rows = 1, .row_ptr = rp, .idx = qi, .val = qv, .label = &ql, .weight = &qw};
    ops->predict_batch(m, &q, &p);
    double s = 0.029747890986131925 + 0.022646838251823346 + 0.055769471726924376;
    ASSERT_NEAR(p, 1 / (1 + exp(-s)), 2e-6);
    ops->destroy(m);
    leap_featurizer_free(&fz);
}

TEST(neg_rate_calibration_formula) {
    /* q = 0.5 at r = 0.1: p = 0.5 / (0.5 + 0.5 / 0.1) = 1/11 */
    ASSERT_NEAR(leap_calibrate_neg_rate(0.5f, 0.1), 1.0 / 11.0, 1e-7);
    ASSERT_NEAR(leap_calibrate_neg_rate(0.3f, 1.0), 0.3, 1e-7);
}

static int make_bundle(const char *path, leap_err *err) {
    leap_bundle b;
    memset(&b, 0, sizeof b);
    b.neg_rate = 0.5;
    b.logit_shift = 0.25;
    small_fz(&b.fz);
    b.ops = leap_model_find("lr");
    b.opts = calloc(1, b.ops->opts_size);
    leap_opts_defaults(b.ops->opts, b.opts);
    int rc = b.ops->create(b.opts, &b.fz, &b.model, err);
    if (rc) return rc;
    leap_state_seg segs[LEAP_MAX_STATE_SEGS];
    b.model->ops->state(b.model, segs);
    for (size_t i = 0; i < segs[0].n; i++)
        segs[0].p[i] = i % 2 ? 1.0f : (float)((int)(i % 7) - 3);
    b.model->ops->refresh(b.model);
    leap_bundle_meta_set(&b, "train.rows", "123");
    rc = leap_bundle_save(path, &b, err);
    leap_bundle_free(&b);
    return rc;
}

static size_t file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fclose(f);
    return n;
}

TEST(bundle_round_trip_and_refusals) {
    char dir[] = "/tmp/leap_bundle_XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256], bad[300];
    snprintf(path, sizeof path, "%s/m.leap", dir);
    snprintf(bad, sizeof bad, "%s/bad.leap", dir);
    leap_err err = {0};
    ASSERT_OK(make_bundle(path, &err));
    leap_bundle b;
    ASSERT_OK(leap_bundle_load(path, &b, &err));
    ASSERT_TRUE(strcmp(leap_bundle_meta_get(&b, "model"), "lr") == 0);
    ASSERT_TRUE(strcmp(leap_bundle_meta_get(&b, "train.rows"), "123") == 0);
    ASSERT_NEAR(b.neg_rate, 0.5, 0);
    ASSERT_NEAR(b.logit_shift, 0.25, 0);
    ASSERT_EQ_INT(b.fz.n_fields, 2);
    /* predictions survive the round trip bit for bit */
    uint32_t rp[2] = {0, 2}, qi[2] = {3, 9};
    float qv[2] = {1, 1}, ql = 0, qw = 1, p1, p2;
    leap_fbatch q = {.n_rows = 1, .row_ptr = rp, .idx = qi, .val = qv, .label = &ql, .weight = &qw};
    leap_bundle_predict(&b, &q, &p1);
    leap_bundle_free(&b);
    ASSERT_OK(leap_bundle_load(path, &b, &err));
    leap_bundle_predict(&b, &q, &p2);
    ASSERT_TRUE(p1 == p2);
    leap_bundle_free(&b);

    /* read the bytes once */
    size_t n = file_size(path);
    unsigned char *bytes = malloc(n);
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(fread(bytes, 1, n, f) == n);
    fclose(f);
    /* every flipped byte in the body is detected */
    for (size_t off = 0; off < n; off += n / 7 + 1) {
        bytes[off] ^= 0x20;
        f = fopen(bad, "wb");
        fwrite(bytes, 1, n, f);
        fclose(f);
        bytes[off] ^= 0x20;
        int rc = leap_bundle_load(bad, &b, &err);
        if (rc == LEAP_OK) TH_FAIL("flipped byte at %zu not detected", off);
        ASSERT_TRUE(rc == LEAP_ECORRUPT || rc == LEAP_EVERSION);
    }
    /* truncated */
    f = fopen(bad, "wb");
    fwrite(bytes, 1, n - 100, f);
    fclose(f);
    ASSERT_EQ_INT(leap_bundle_load(bad, &b, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "truncated");
    /* future version */
    bytes[8] = 9;
    f = fopen(bad, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    ASSERT_EQ_INT(leap_bundle_load(bad, &b, &err), LEAP_EVERSION);
    ASSERT_STR_CONTAINS(err.msg, "version 9 is newer");
    /* not a bundle */
    f = fopen(bad, "wb");
    fputs("hello world", f);
    fclose(f);
    ASSERT_EQ_INT(leap_bundle_load(bad, &b, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "not a leap model bundle");
    free(bytes);
    unlink(bad);
    unlink(path);
    rmdir(dir);
}

/* Numeric log buckets: x <= 2 keeps its integer value, x > 2 its bucket
 * floor(ln(x)^2) in a separate token space (1 and 3 differ; 3 and 4 share
 * bucket 1); missing has its own bucket; small integers (table) and large or
 * fractional values (formula) agree. */
TEST(featurize_log_buckets) {
    leap_column_def cols[2] = {{"label", LEAP_COL_LABEL, 0}, {"I1", LEAP_COL_NUMERIC, 0}};
    leap_schema s = {2, cols};
    leap_fz_opts o = {20, 0};
    leap_err err = {0};
    leap_featurizer fz;
    ASSERT_OK(leap_featurizer_init(&fz, &o, &s, &err));
    leap_fz_binding b;
    ASSERT_OK(leap_fz_bind(&fz, &s, "test", &b, &err));
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &s));
    const float xs[] = {1, 3, 4, 2, 5, NAN, 5000, 5000.5f, 4095, 4096, -1};
    size_t n = sizeof xs / sizeof xs[0];
    ASSERT_OK(leap_rowgroup_reserve(&rg, n, 0));
    rg.n_rows = n;
    for (size_t i = 0; i < n; i++) {
        rg.cols[0].f32[i] = 0;
        rg.cols[1].f32[i] = xs[i];
    }
    leap_fbatch fb = {0};
    ASSERT_OK(leap_featurize(&fz, &b, &rg, &fb, &err));
    ASSERT_EQ_INT(fb.row_ptr[n], n);
    const uint32_t *ix = fb.idx;
    ASSERT_TRUE(ix[0] != ix[1]); /* 1 vs 3: both "1" in the classic formula */
    ASSERT_EQ_INT(ix[1], ix[2]); /* 3 and 4: bucket 1 */
    ASSERT_TRUE(ix[3] != ix[4]); /* 2 vs 5 (bucket 2) */
    ASSERT_TRUE(ix[5] != ix[0] && ix[5] != ix[1] && ix[5] != ix[3]); /* missing */
    ASSERT_EQ_INT(ix[6], ix[7]); /* 5000 and 5000.5: bucket 72 through the formula */
    ASSERT_EQ_INT(leap_log_bucket(4095), leap_log_bucket(4096));
    ASSERT_EQ_INT(ix[8], ix[9]);  /* table edge (4095) agrees with the formula (4096) */
    ASSERT_TRUE(ix[10] != ix[0]); /* -1 is its own value */
    leap_fbatch_free(&fb);
    leap_rowgroup_free(&rg);
    leap_fz_binding_free(&b);
    leap_featurizer_free(&fz);
}

/* ---- L-BFGS against an independent Newton solve ---------------------------- */
static const leap_fbatch *lbfgs_batch;
static int fake_map(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    fn(user, lbfgs_batch, 0);
    return 0;
}

/* 50 rows: 30 with coordinate 3 (10 clicks), 20 with coordinate 7 (15 clicks).
 * Objective Σ logloss + (l2/2)(wA² + wB²), bias free. Newton's method with the
 * exact 3x3 Hessian gives the reference optimum; L-BFGS must land within 1e-4
 * (its stopping tolerance, 1e-10 relative here, bounds the error far below). */
TEST(lbfgs_matches_newton_optimum) {
    enum { N = 50 };
    uint32_t row_ptr[N + 1], idx[N];
    float val[N], label[N], weight[N];
    for (int i = 0; i < N; i++) {
        row_ptr[i] = (uint32_t)i;
        idx[i] = i < 30 ? 3 : 7;
        val[i] = 1;
        label[i] = (i < 30) ? (i < 10) : (i - 30 < 15);
        weight[i] = 1;
    }
    row_ptr[N] = N;
    leap_fbatch b = {
        .n_rows = N, .row_ptr = row_ptr, .idx = idx, .val = val, .label = label, .weight = weight};
    lbfgs_batch = &b;
    const double l2 = 2.0;
    /* Newton on (bias, wA, wB) */
    double th[3] = {0, 0, 0};
    for (int it = 0; it < 50; it++) {
        double g[3] = {0, l2 * th[1], l2 * th[2]}, H[3][3] = {{0, 0, 0}, {0, l2, 0}, {0, 0, l2}};
        for (int i = 0; i < N; i++) {
            int f = i < 30 ? 1 : 2;
            double p = 1 / (1 + exp(-(th[0] + th[f]))), h = p * (1 - p);
            g[0] += p - label[i];
            g[f] += p - label[i];
            H[0][0] += h;
            H[f][f] += h;
            H[0][f] += h;
            H[f][0] += h;
        }
        /* solve H dx = g (3x3, Gaussian elimination) */
        double M[3][4];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++)
                M[r][c] = H[r][c];
            M[r][3] = g[r];
        }
        for (int c = 0; c < 3; c++)
            for (int r = c + 1; r < 3; r++) {
                double q = M[r][c] / M[c][c];
                for (int k = c; k < 4; k++)
                    M[r][k] -= q * M[c][k];
            }
        double dx[3];
        for (int r = 2; r >= 0; r--) {
            double s = M[r][3];
            for (int k = r + 1; k < 3; k++)
                s -= M[r][k] * dx[k];
            dx[r] = s / M[r][r];
        }
        for (int k = 0; k < 3; k++)
            th[k] -= dx[k];
    }
    leap_featurizer fz;
    small_fz(&fz);
    const leap_model_ops *ops = leap_model_find("lr");
    char obj[256];
    leap_opts_defaults(ops->opts, obj);
    leap_err err = {0};
    ASSERT_OK(leap_opts_set(ops->opts, obj, "optimizer", "lbfgs", &err));
    ASSERT_OK(leap_opts_set(ops->opts, obj, "l2", "2", &err));
    ASSERT_OK(leap_opts_set(ops->opts, obj, "tol", "1e-10", &err));
    leap_model *m;
    ASSERT_OK(ops->create(obj, &fz, &m, &err));
    leap_fit_io io = {.threads = 1, .comm = NULL, .map = fake_map};
    ASSERT_OK(ops->fit(m, &io, &err));
    float p[2];
    uint32_t rp[3] = {0, 1, 2}, qi[2] = {3, 7};
    float qv[2] = {1, 1}, ql[2] = {0, 0}, qw[2] = {1, 1};
    leap_fbatch q = {.n_rows = 2, .row_ptr = rp, .idx = qi, .val = qv, .label = ql, .weight = qw};
    ops->predict_batch(m, &q, p);
    ASSERT_NEAR(p[0], 1 / (1 + exp(-(th[0] + th[1]))), 1e-4);
    ASSERT_NEAR(p[1], 1 / (1 + exp(-(th[0] + th[2]))), 1e-4);
    /* an online optimizer declines fit() */
    leap_model *m2;
    leap_opts_defaults(ops->opts, obj);
    ASSERT_OK(ops->create(obj, &fz, &m2, &err));
    ASSERT_EQ_INT(ops->fit(m2, &io, &err), LEAP_EUNSUPPORTED);
    ops->destroy(m2);
    ops->destroy(m);
    leap_featurizer_free(&fz);
}

/* The intercept refit: constant scores 0.2 against a 50% click rate need a
 * logit shift of logit(0.5) - logit(0.2) = ln 4; with negative downsampling
 * at r = 0.25 the shifted score must also pass through the correction. */
TEST(logit_shift_fit) {
    enum { N = 1000 };
    static float q[N], y[N];
    for (int i = 0; i < N; i++) {
        q[i] = 0.2f;
        y[i] = (float)(i % 2);
    }
    ASSERT_NEAR(leap_fit_logit_shift(q, y, NULL, N, 1.0), log(4.0), 1e-6);
    double d = leap_fit_logit_shift(q, y, NULL, N, 0.25);
    double p = leap_calibrate_neg_rate(leap_shift_logit(0.2f, d), 0.25);
    ASSERT_NEAR(p, 0.5, 1e-5); /* tolerance: float scores */
    ASSERT_NEAR(leap_shift_logit(0.5f, 0.0), 0.5, 1e-7);
}
