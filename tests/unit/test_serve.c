/* Unit tests for serving without a server: request decoding (row and
 * columnar formats, value rules, error messages naming the field), auction
 * pricing on hand-worked slates (GSP, first price, VCG, ties, reserve
 * cut-offs), and the repository's versions (policy, warm-up refusal,
 * refcounted swap: a held version survives a reload and is freed after its
 * release). */
#include "harness.h"
#include "leap/serve.h"
#include "serve/serve_internal.h"

#include <stdarg.h>

#include <sys/stat.h>
#include <unistd.h>

/* A featurizer over the Criteo columns (I1..I13 numeric, C1..C26 categorical). */
static void criteo_fz(leap_featurizer *fz) {
    leap_column_def cols[40];
    leap_schema s;
    leap_schema_criteo(&s, cols);
    leap_fz_opts o = {18, 0};
    leap_err err = {0};
    leap_featurizer_init(fz, &o, &s, &err);
}

static int decode(const leap_serve_inputs *in, const char *body, leap_rowgroup *rg, leap_err *err) {
    memset(err, 0, sizeof *err);
    return leap_serve_decode_predict(in, body, strlen(body), rg, err);
}

TEST(decode_rows_values_and_missing) {
    leap_featurizer fz;
    criteo_fz(&fz);
    leap_serve_inputs in;
    leap_err err = {0};
    ASSERT_OK(leap_serve_inputs_init(&in, &fz, &err));
    ASSERT_EQ_INT(in.schema.n_cols, 40); /* label + 39 features */
    int i5 = leap_serve_inputs_find(&in, "I5", 2), c1 = leap_serve_inputs_find(&in, "C1", 2);
    ASSERT_TRUE(i5 > 0 && c1 > 0);
    ASSERT_EQ_INT(leap_serve_inputs_find(&in, "C99", 3), -1);
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &in.schema));
    ASSERT_OK(decode(&in,
                     "{\"instances\": [{\"I5\": 2059, \"C1\": \"68fd1e64\", \"extra\": [1]},"
                     " {\"I5\": null, \"C1\": \"\"}, {\"C1\": 7, \"I5\": 0.5}]}",
                     &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 3);
    ASSERT_TRUE(rg.cols[i5].f32[0] == 2059.0f);
    ASSERT_EQ_U64(rg.cols[c1].u64[0], leap_cat_hash("68fd1e64", 8));
    ASSERT_TRUE(isnan(rg.cols[i5].f32[1]));
    ASSERT_EQ_U64(rg.cols[c1].u64[1], 0);
    /* a number for a categorical column stands for its text */
    ASSERT_EQ_U64(rg.cols[c1].u64[2], leap_cat_hash("7", 1));
    ASSERT_TRUE(rg.cols[i5].f32[2] == 0.5f);
    int c2 = leap_serve_inputs_find(&in, "C2", 2);
    ASSERT_EQ_U64(rg.cols[c2].u64[0], 0); /* absent = missing */

    /* columnar: same rows */
    ASSERT_OK(decode(&in,
                     "{\"inputs\": {\"I5\": [2059, null, 0.5], \"C1\": [\"68fd1e64\", \"\", 7]}}",
                     &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 3);
    ASSERT_TRUE(rg.cols[i5].f32[0] == 2059.0f && isnan(rg.cols[i5].f32[1]));
    ASSERT_EQ_U64(rg.cols[c1].u64[2], leap_cat_hash("7", 1));
    /* 2.5 as a categorical: its shortest text */
    ASSERT_OK(decode(&in, "{\"instances\": [{\"C1\": 2.5}]}", &rg, &err));
    ASSERT_EQ_U64(rg.cols[c1].u64[0], leap_cat_hash("2.5", 3));
    leap_rowgroup_free(&rg);
    leap_serve_inputs_free(&in);
    leap_featurizer_free(&fz);
}

TEST(decode_errors_name_the_field) {
    leap_featurizer fz;
    criteo_fz(&fz);
    leap_serve_inputs in;
    leap_err err = {0};
    ASSERT_OK(leap_serve_inputs_init(&in, &fz, &err));
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &in.schema));
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"instances\": [{}, {}, {}, {\"I5\": \"x\"}]}",
         "instances[3].I5: expected a number, got string"},
        {"{\"instances\": [{\"C3\": [1]}]}", "instances[0].C3: expected a string, got array"},
        {"{\"instances\": [1]}", "instances[0]: expected an object, got number"},
        {"{\"instances\": {}}", "instances: expected an array of objects, got object"},
        {"{\"instances\": []}", "instances: no rows"},
        {"{\"inputs\": {\"I1\": [1, 2], \"I2\": [1]}}", "inputs.I2: 1 values, but inputs.I1 has 2"},
        {"{\"inputs\": {\"I1\": [1, \"a\"]}}", "inputs.I1[1]: expected a number, got string"},
        {"{\"inputs\": {\"nope\": [1]}}", "inputs: none of the model's input columns"},
        {"{\"instances\": [{}], \"inputs\": {}}", "either \"instances\" or \"inputs\""},
        {"{}", "no \"instances\" or \"inputs\""},
        {"[1, 2]", "expected a JSON object, got array"},
        {"{\"instances\": [", "not valid JSON"},
        {"{\"instances\": [{}]} x", "unexpected data after the JSON value"},
        {"", "not valid JSON"},
        {"{\"instances\": "
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "nested more than 32 levels deep"},
        {"{\"instances\": [{\"C1\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"}, {\"I1\": "
         "\"a\"}]}",
         "instances[1].I1: expected a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = decode(&in, cases[i].body, &rg, &err);
        if (rc == 0) TH_FAIL("case %zu accepted: %s", i, cases[i].body);
        ASSERT_STR_CONTAINS(err.msg, cases[i].msg);
    }
    leap_rowgroup_free(&rg);
    leap_serve_inputs_free(&in);
    leap_featurizer_free(&fz);
}

TEST(decode_multi_categorical_weighted) {
    leap_column_def cols[3] = {{"label", LEAP_COL_LABEL, 0},
                               {"tags", LEAP_COL_MULTI_CATEGORICAL, 0},
                               {"features", LEAP_COL_MULTI_CATEGORICAL, 1}};
    leap_schema s = {3, cols};
    leap_featurizer fz;
    leap_fz_opts o = {10, 0};
    leap_err err = {0};
    ASSERT_OK(leap_featurizer_init(&fz, &o, &s, &err));
    leap_serve_inputs in;
    ASSERT_OK(leap_serve_inputs_init(&in, &fz, &err));
    int tags = leap_serve_inputs_find(&in, "tags", 4),
        feats = leap_serve_inputs_find(&in, "features", 8);
    ASSERT_TRUE(tags >= 0 && feats >= 0 && in.schema.cols[feats].weighted);
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &in.schema));
    ASSERT_OK(decode(&in,
                     "{\"instances\": [{\"tags\": [\"a\", \"\", \"b\"], \"features\": [[\"3\", "
                     "0.5], \"7\"]}, {\"tags\": null}, {\"tags\": [\"c\"]}]}",
                     &rg, &err));
    const leap_column *t = &rg.cols[tags], *f = &rg.cols[feats];
    ASSERT_EQ_INT(t->offsets[1], 2); /* "" skipped, as the readers do */
    ASSERT_EQ_INT(t->offsets[2], 2);
    ASSERT_EQ_INT(t->offsets[3], 3);
    ASSERT_EQ_U64(t->u64[1], leap_cat_hash("b", 1));
    ASSERT_EQ_U64(t->u64[2], leap_cat_hash("c", 1));
    ASSERT_EQ_INT(f->offsets[1], 2);
    ASSERT_TRUE(f->vw[0] == 0.5f && f->vw[1] == 1.0f);
    ASSERT_EQ_U64(f->u64[0], leap_cat_hash("3", 1));
    ASSERT_TRUE(decode(&in, "{\"instances\": [{\"tags\": [\"a\", {}]}]}", &rg, &err) != 0);
    ASSERT_STR_CONTAINS(err.msg,
                        "instances[0].tags[1]: expected a string or [value, weight], got object");
    ASSERT_TRUE(decode(&in, "{\"instances\": [{\"features\": [[\"a\"]]}]}", &rg, &err) != 0);
    ASSERT_STR_CONTAINS(err.msg, "instances[0].features[0]: expected [value, weight]");
    leap_rowgroup_free(&rg);
    leap_serve_inputs_free(&in);
    leap_featurizer_free(&fz);
}

TEST(decode_rank_merges_context) {
    leap_featurizer fz;
    criteo_fz(&fz);
    leap_serve_inputs in;
    leap_err err = {0};
    ASSERT_OK(leap_serve_inputs_init(&in, &fz, &err));
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &in.schema));
    leap_rank_request rq;
    memset(&rq, 0, sizeof rq);
    const char *body =
        "{\"context\": {\"I1\": 5, \"C1\": \"site\"}, \"slots\": 2, \"auction\": \"vcg\","
        " \"reserve\": 1.5, \"position_ctr\": [1, 0.5, 0.1],"
        " \"candidates\": [{\"id\": \"a\", \"bid\": 2, \"features\": {\"C2\": \"ad1\"}},"
        " {\"id\": 42, \"bid\": 30, \"bid_type\": \"CPM\", \"features\": {\"C1\": \"other\"}}]}";
    ASSERT_OK(leap_serve_decode_rank(&in, body, strlen(body), &rq, &rg, &err));
    ASSERT_EQ_INT(rq.n_ads, 2);
    ASSERT_EQ_INT(rg.n_rows, 2);
    ASSERT_EQ_INT(rq.auction.kind, LEAP_AUCTION_VCG);
    ASSERT_EQ_INT(rq.auction.slots, 2);
    ASSERT_NEAR(rq.auction.reserve, 1.5, 0);
    ASSERT_NEAR(rq.auction.position_ctr[1], 0.5, 0);
    ASSERT_EQ_INT(rq.ads[1].type, LEAP_BID_CPM);
    ASSERT_TRUE(rq.id_off[2] - rq.id_off[1] == 2 && !memcmp(rq.ids.p + rq.id_off[1], "42", 2));
    int i1 = leap_serve_inputs_find(&in, "I1", 2), c1 = leap_serve_inputs_find(&in, "C1", 2),
        c2 = leap_serve_inputs_find(&in, "C2", 2);
    ASSERT_TRUE(rg.cols[i1].f32[0] == 5.0f && rg.cols[i1].f32[1] == 5.0f);
    ASSERT_EQ_U64(rg.cols[c1].u64[0], leap_cat_hash("site", 4));
    ASSERT_EQ_U64(rg.cols[c1].u64[1], leap_cat_hash("other", 5)); /* candidate overrides */
    ASSERT_EQ_U64(rg.cols[c2].u64[0], leap_cat_hash("ad1", 3));
    ASSERT_EQ_U64(rg.cols[c2].u64[1], 0);
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{\"candidates\": [{\"bid\": -1}]}", "candidates[0].bid: expected a positive number"},
        {"{\"candidates\": [{}]}", "candidates[0].bid: expected a positive number, got nothing"},
        {"{\"candidates\": [{\"bid\": 1, \"bid_type\": \"CPA\"}]}",
         "candidates[0].bid_type: expected \"CPC\" or \"CPM\""},
        {"{\"candidates\": [{\"bid\": 1, \"features\": {\"I3\": true}}]}",
         "candidates[0].features.I3: expected a number, got boolean"},
        {"{\"candidates\": []}", "candidates: empty"},
        {"{\"candidates\": [{\"bid\": 1}], \"auction\": \"dutch\"}", "auction: expected"},
        {"{\"candidates\": [{\"bid\": 1}], \"slots\": 0}", "slots: expected a number >= 1"},
        {"{\"candidates\": [{\"bid\": 1}], \"slots\": 2, \"position_ctr\": [1]}",
         "position_ctr: 1 values for 2 slots"},
        {"{\"candidates\": [{\"bid\": 1}], \"slots\": 2, \"position_ctr\": [0.5, 1]}",
         "position_ctr[1]: larger than position_ctr[0]"},
        {"{\"context\": {\"I1\": \"x\"}, \"candidates\": [{\"bid\": 1}]}",
         "context.I1: expected a number, got string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        if (!leap_serve_decode_rank(&in, bad[i].body, strlen(bad[i].body), &rq, &rg, &err))
            TH_FAIL("case %zu accepted: %s", i, bad[i].body);
        ASSERT_STR_CONTAINS(err.msg, bad[i].msg);
    }
    leap_rank_request_free(&rq);
    leap_rowgroup_free(&rg);
    leap_serve_inputs_free(&in);
    leap_featurizer_free(&fz);
}

/* ---- auctions: hand-worked slates ------------------------------------------------ */
/* A: CPC 2 × 0.05 -> eCPM 100;  B: CPC 1 × 0.08 -> 80;  C: CPM 50 -> 50;
 * D: CPC 3 × 0.01 -> 30.  Two slots. */
static void slate(leap_ad ads[4]) {
    ads[0] = (leap_ad){2, LEAP_BID_CPC, 0.05f, 0};
    ads[1] = (leap_ad){1, LEAP_BID_CPC, 0.08f, 0};
    ads[2] = (leap_ad){50, LEAP_BID_CPM, 0, 0};
    ads[3] = (leap_ad){3, LEAP_BID_CPC, 0.01f, 0};
}

static leap_auction_opts auction(leap_auction_kind k, size_t slots, double reserve,
                                 const double *theta) {
    leap_auction_opts o;
    memset(&o, 0, sizeof o);
    o.kind = k;
    o.slots = slots;
    o.reserve = reserve;
    for (size_t j = 0; j < LEAP_SERVE_MAX_SLOTS; j++)
        o.position_ctr[j] = theta && j < slots ? theta[j] : 1.0;
    return o;
}

/* pctr is a float: 0.05f·1000 is 50.0000007..., so prices are compared to
 * the float-exact values with a tolerance of 1e-6 relative. */
#define PCTR(x) ((double)(float)(x))

TEST(auction_gsp_first_price_vcg) {
    leap_ad ads[4];
    size_t order[4];
    leap_auction_slot out[4];
    const double theta[2] = {1.0, 0.5};
    /* GSP, reserve 40: D (30) is cut; A pays B's eCPM per its CTR, B pays C's */
    slate(ads);
    leap_auction_opts o = auction(LEAP_AUCTION_GSP, 2, 40, theta);
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 2);
    ASSERT_EQ_INT(out[0].ad, 0);
    ASSERT_EQ_INT(out[1].ad, 1);
    ASSERT_EQ_INT(out[1].position, 2);
    ASSERT_NEAR(ads[0].ecpm, 1000 * 2 * PCTR(0.05), 1e-9);
    ASSERT_NEAR(out[0].price, 1000 * PCTR(0.08) / (1000 * PCTR(0.05)), 1e-9); /* 1.6 */
    ASSERT_NEAR(out[0].price, 1.6, 1e-6);
    ASSERT_NEAR(out[1].price, 50 / (1000 * PCTR(0.08)), 1e-9); /* 0.625 */
    /* first price: the bids */
    o.kind = LEAP_AUCTION_FIRST_PRICE;
    leap_auction_run(&o, ads, 4, order, out);
    ASSERT_NEAR(out[0].price, 2, 0);
    ASSERT_NEAR(out[1].price, 1, 0);
    /* VCG with θ = (1, 0.5): A pays 80·(1−0.5) + 50·0.5 = 65 per mille -> 65/50 = 1.3
     * per click; B pays 50·0.5 = 25 per mille at θ 0.5 -> 25/(80·0.5) = 0.625 */
    o.kind = LEAP_AUCTION_VCG;
    leap_auction_run(&o, ads, 4, order, out);
    ASSERT_NEAR(out[0].price, 1.3, 1e-6);
    ASSERT_NEAR(out[1].price, 0.625, 1e-6);
    /* VCG with equal slots: everyone pays the first loser's eCPM (C, 50) */
    o = auction(LEAP_AUCTION_VCG, 2, 0, NULL);
    leap_auction_run(&o, ads, 4, order, out);
    ASSERT_NEAR(out[0].price, 50 / (1000 * PCTR(0.05)), 1e-9); /* 1.0 */
    ASSERT_NEAR(out[1].price, 50 / (1000 * PCTR(0.08)), 1e-9);
    /* a CPM winner pays per mille: three slots, C third, pays D's eCPM (30) */
    o = auction(LEAP_AUCTION_GSP, 3, 0, NULL);
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 3);
    ASSERT_EQ_INT(out[2].ad, 2);
    ASSERT_NEAR(out[2].price, 1000 * 3 * PCTR(0.01), 1e-9);
}

TEST(auction_reserve_cutoffs) {
    leap_ad ads[4];
    size_t order[4];
    leap_auction_slot out[4];
    const double theta[2] = {1.0, 0.5};
    /* reserve 90: only A (100) is shown; it pays the reserve: 90/50 = 1.8 per click */
    slate(ads);
    leap_auction_opts o = auction(LEAP_AUCTION_GSP, 2, 90, theta);
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 1);
    ASSERT_NEAR(out[0].price, 90 / (1000 * PCTR(0.05)), 1e-9);
    /* VCG with the reserve as phantom bidders: 90·0.5 + 90·0.5 = 90 -> 1.8 too */
    o.kind = LEAP_AUCTION_VCG;
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 1);
    ASSERT_NEAR(out[0].price, 90 / (1000 * PCTR(0.05)), 1e-9);
    /* a reserve equal to an eCPM keeps the ad (>=); above every eCPM shows nothing */
    o = auction(LEAP_AUCTION_GSP, 2, 50, NULL);
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 2);
    ASSERT_NEAR(out[1].price, 50 / (1000 * PCTR(0.08)), 1e-9);
    o.slots = 3;
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 3);
    ASSERT_NEAR(out[2].price, 50, 1e-9); /* C pays the reserve, its own bid */
    o.reserve = 101;
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 0);
    /* the reserve is a floor under the next eCPM: B pays max(C 50, 60) */
    o = auction(LEAP_AUCTION_GSP, 2, 60, NULL);
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 4, order, out), 2);
    ASSERT_NEAR(out[1].price, 60 / (1000 * PCTR(0.08)), 1e-9);
}

TEST(auction_ties_break_by_candidate_order) {
    /* three ads with equal eCPM 100: order kept; each pays its own bid (GSP) */
    leap_ad ads[3] = {
        {4, LEAP_BID_CPC, 0.025f, 0}, {100, LEAP_BID_CPM, 0, 0}, {2, LEAP_BID_CPC, 0.05f, 0}};
    ads[0].pctr = 0.025f;
    size_t order[3];
    leap_auction_slot out[3];
    leap_auction_opts o = auction(LEAP_AUCTION_GSP, 2, 0, NULL);
    /* 0.025f and 0.05f are not exact: make the eCPMs exactly equal */
    ads[0] = (leap_ad){100.0 / (1000.0 * 0.25), LEAP_BID_CPC, 0.25f, 0};
    ads[2] = (leap_ad){100.0 / (1000.0 * 0.5), LEAP_BID_CPC, 0.5f, 0};
    ASSERT_EQ_INT(leap_auction_run(&o, ads, 3, order, out), 2);
    ASSERT_EQ_INT(out[0].ad, 0);
    ASSERT_EQ_INT(out[1].ad, 1);
    ASSERT_NEAR(out[0].price, ads[0].bid, 1e-12);
    ASSERT_NEAR(out[1].price, ads[1].bid, 1e-12);
    /* reversed input order reverses the winners: the tie break is the order sent */
    leap_ad rev[3] = {ads[2], ads[1], ads[0]};
    leap_auction_run(&o, rev, 3, order, out);
    ASSERT_EQ_INT(out[0].ad, 0);
    ASSERT_NEAR(rev[0].bid, 0.2, 1e-12);
    /* zero pCTR never wins (no price per click exists) */
    leap_ad z[2] = {{5, LEAP_BID_CPC, 0.0f, 0}, {1, LEAP_BID_CPC, 0.1f, 0}};
    ASSERT_EQ_INT(leap_auction_run(&o, z, 2, order, out), 1);
    ASSERT_EQ_INT(out[0].ad, 1);
    ASSERT_NEAR(out[0].price, 0, 0);
}

/* ---- repository ---------------------------------------------------------------------- */
static char tmpdir[256];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fprintf(stderr, "command failed: %s\n", cmd);
}

/* An untrained LR bundle over the Criteo columns, saved to path. */
static int write_bundle(const char *path, const char *note) {
    leap_bundle b;
    memset(&b, 0, sizeof b);
    criteo_fz(&b.fz);
    b.ops = leap_model_find("lr");
    b.opts = calloc(1, b.ops->opts_size);
    leap_opts_defaults(b.ops->opts, b.opts);
    leap_err err = {0};
    int rc = b.ops->create(b.opts, &b.fz, &b.model, &err);
    b.neg_rate = 1;
    leap_bundle_meta_set(&b, "note", note);
    if (!rc) rc = leap_bundle_save(path, &b, &err);
    leap_bundle_free(&b);
    return rc;
}

static void push(const char *model, int version, const char *note) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s/%d", tmpdir, model, version);
    sh("mkdir -p %s", dir);
    snprintf(path, sizeof path, "%s/model.leap", dir);
    write_bundle(path, note);
}

static const char *note_of(leap_repo_version *v) {
    return leap_bundle_meta_get(leap_repo_version_bundle(v), "note");
}

TEST(repo_policy_swap_and_refcount) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_test_serve_%d", (int)getpid());
    sh("rm -rf %s && mkdir -p %s", tmpdir, tmpdir);
    push("ctr", 1, "one");
    leap_repo *r;
    leap_err err = {0};
    ASSERT_OK(leap_repo_create(&(leap_repo_opts){.dir = tmpdir, .keep_latest = 1}, &r, &err));
    ASSERT_OK(leap_repo_reload(r, &err));
    leap_repo_version *v1 = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_TRUE(v1 != NULL);
    ASSERT_EQ_INT(leap_repo_version_number(v1), 1);
    ASSERT_TRUE(leap_repo_acquire(r, "nope", 4, 0) == NULL);
    ASSERT_TRUE(leap_repo_acquire(r, "ctr", 3, 2) == NULL);

    /* v2 arrives while v1 is held: the swap retires v1 but does not free it */
    push("ctr", 2, "two");
    ASSERT_OK(leap_repo_reload(r, &err));
    leap_repo_version *v2 = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v2), 2);
    ASSERT_TRUE(!strcmp(note_of(v2), "two"));
    leap_repo_stats st;
    leap_repo_get_stats(r, &st);
    ASSERT_EQ_INT(st.versions_loaded, 1);
    ASSERT_EQ_INT(st.retired_waiting, 1);
    ASSERT_EQ_INT(st.versions_freed, 0);
    ASSERT_TRUE(!strcmp(note_of(v1), "one")); /* still readable */
    ASSERT_EQ_INT(leap_repo_collect(r), 1);
    leap_repo_release(v1);
    ASSERT_EQ_INT(leap_repo_collect(r), 0);
    leap_repo_get_stats(r, &st);
    ASSERT_EQ_INT(st.versions_freed, 1);
    leap_repo_release(v2);

    /* a corrupt v3 is refused; serving stays on v2; retried only when the file changes */
    sh("mkdir -p %s/ctr/3 && head -c 100 %s/ctr/2/model.leap > %s/ctr/3/model.leap", tmpdir, tmpdir,
       tmpdir);
    ASSERT_OK(leap_repo_reload(r, &err));
    leap_repo_version *v = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v), 2);
    leap_repo_release(v);
    leap_repo_get_stats(r, &st);
    ASSERT_EQ_INT(st.load_failures, 1);
    ASSERT_OK(leap_repo_reload(r, &err));
    leap_repo_get_stats(r, &st);
    ASSERT_EQ_INT(st.load_failures, 1);
    leap_buf b = {0};
    ASSERT_OK(leap__repo_status_json(r, "ctr", 3, 0, &b));
    ASSERT_TRUE(leap_buf_append(&b, "", 1) == 0);
    ASSERT_STR_CONTAINS((const char *)b.p, "\"version\":\"2\",\"state\":\"AVAILABLE\"");
    ASSERT_STR_CONTAINS((const char *)b.p, "\"version\":\"3\",\"state\":\"END\"");
    leap_buf_free(&b);

    /* a warm-up request that fails refuses the version */
    push("ctr", 4, "four");
    sh("printf '{\"instances\": [{\"I1\": \"bad\"}]}\\n' > %s/ctr/4/warmup.jsonl", tmpdir);
    ASSERT_OK(leap_repo_reload(r, &err));
    v = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v), 2);
    leap_repo_release(v);
    /* fixed warm-up file: still the same model file, so not retried ... */
    sh("printf '{\"instances\": [{\"I1\": 1}]}\\n' > %s/ctr/4/warmup.jsonl", tmpdir);
    ASSERT_OK(leap_repo_reload(r, &err));
    v = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v), 2);
    leap_repo_release(v);
    /* ... until the model file is pushed again */
    sh("sleep 0.01; rm %s/ctr/4/model.leap", tmpdir);
    push("ctr", 4, "four again");
    ASSERT_OK(leap_repo_reload(r, &err));
    v = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v), 4);
    leap_repo_release(v);
    leap_repo_destroy(r);

    /* keep the latest 2; pinned versions */
    ASSERT_OK(leap_repo_create(&(leap_repo_opts){.dir = tmpdir, .keep_latest = 2}, &r, &err));
    ASSERT_OK(leap_repo_reload(r, &err));
    v = leap_repo_acquire(r, "ctr", 3, 2);
    ASSERT_TRUE(v != NULL);
    leap_repo_release(v);
    leap_repo_destroy(r);
    leap_repo_pin pin = {"ctr", {1}, 1};
    ASSERT_OK(
        leap_repo_create(&(leap_repo_opts){.dir = tmpdir, .pins = &pin, .n_pins = 1}, &r, &err));
    ASSERT_OK(leap_repo_reload(r, &err));
    v = leap_repo_acquire(r, "ctr", 3, 0);
    ASSERT_EQ_INT(leap_repo_version_number(v), 1);
    leap_repo_release(v);
    /* the model folder disappears: nothing served */
    sh("rm -rf %s/ctr", tmpdir);
    ASSERT_OK(leap_repo_reload(r, &err));
    ASSERT_TRUE(leap_repo_acquire(r, "ctr", 3, 0) == NULL);
    leap_repo_destroy(r);
    sh("rm -rf %s", tmpdir);
}

TEST(serve_run_predict_and_rank) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_test_serve_run_%d", (int)getpid());
    sh("rm -rf %s && mkdir -p %s", tmpdir, tmpdir);
    push("m", 1, "x");
    leap_repo *r;
    leap_err err = {0};
    ASSERT_OK(leap_repo_create(&(leap_repo_opts){.dir = tmpdir}, &r, &err));
    ASSERT_OK(leap_repo_reload(r, &err));
    leap_repo_version *v = leap_repo_acquire(r, "m", 1, 0);
    ASSERT_TRUE(v != NULL);
    leap_serve_scratch *s = leap_serve_scratch_create();
    const leap_buf *out;
    const char *body = "{\"instances\": [{\"I1\": 1}, {\"C1\": \"a\"}]}";
    ASSERT_OK(leap_serve_run(s, v, LEAP_SERVE_PREDICT, body, strlen(body), &out, &err));
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)out->len, (const char *)out->p);
    /* an untrained model scores 0.5 everywhere */
    ASSERT_STR_CONTAINS(text, "{\"predictions\":[0.5,0.5],\"model_version\":1}");
    body = "{\"slots\": 1, \"candidates\": [{\"id\": \"x\\\"y\", \"bid\": 1}, {\"bid\": 3}]}";
    ASSERT_OK(leap_serve_run(s, v, LEAP_SERVE_RANK, body, strlen(body), &out, &err));
    snprintf(text, sizeof text, "%.*s", (int)out->len, (const char *)out->p);
    /* eCPMs 500 and 1500: candidate 1 wins and pays 500/(1000·0.5) = 1 per click */
    ASSERT_STR_CONTAINS(text, "\"slots\":[{\"position\":1,\"id\":\"1\",\"candidate\":1");
    ASSERT_STR_CONTAINS(text, "\"price\":1}");
    body = "{\"slots\": 2, \"candidates\": [{\"id\": \"x\\\"y\", \"bid\": 1}]}";
    ASSERT_OK(leap_serve_run(s, v, LEAP_SERVE_RANK, body, strlen(body), &out, &err));
    snprintf(text, sizeof text, "%.*s", (int)out->len, (const char *)out->p);
    ASSERT_STR_CONTAINS(text, "\"id\":\"x\\\"y\"");
    leap_serve_scratch_destroy(s);
    leap_repo_release(v);
    leap_repo_destroy(r);
    sh("rm -rf %s", tmpdir);
}
