/* test_track_pipeline.c — pipeline files (checks with FILE:LINE:COL, the
 * topological order, overrides, copy and write/re-read round trip), sweep
 * parameter specs, blessing checks and push decisions on a scratch model
 * repository. Running pipelines is covered by tests/e2e/test_pipeline.sh. */
#define _GNU_SOURCE
#include "harness.h"
#include "leap/pipeline.h"
#include "leap/push.h"

#include <sys/stat.h>
#include <unistd.h>

static const char good[] = "name: t\n"
                           "steps:\n"
                           "  eval:\n"
                           "    kind: eval\n"
                           "    inputs: {model: \"${train.model}\", data: \"${split.test}\"}\n"
                           "  train:\n"
                           "    kind: train\n"
                           "    inputs: {train: \"${split.train}\"}\n"
                           "    options: {epochs: 2, set: {alpha: 0.1}}\n"
                           "  split:\n"
                           "    kind: split\n"
                           "    inputs: {data: raw.lds}\n"
                           "    options: {fractions: [0.8, 0.1, 0.1]}\n";

static int parse_err(const char *text, char *msg) {
    leap_err err = {0};
    leap_pipeline *p = NULL;
    int rc = leap_pipeline_parse(text, strlen(text), "p.yaml", &p, &err);
    leap_pipeline_free(p);
    strcpy(msg, err.msg);
    return rc;
}

TEST(parse_order_and_options) {
    leap_err err = {0};
    leap_pipeline *p;
    ASSERT_OK(leap_pipeline_parse(good, strlen(good), "dir/t.yaml", &p, &err));
    ASSERT_EQ_INT(p->n_steps, 3);
    ASSERT_TRUE(!strcmp(p->name, "t"));
    /* split before train before eval, whatever the file order */
    int pos[3];
    for (size_t i = 0; i < 3; i++)
        pos[leap_pipeline_find(p, p->steps[p->order[i]].name)] = (int)i;
    ASSERT_TRUE(pos[leap_pipeline_find(p, "split")] < pos[leap_pipeline_find(p, "train")]);
    ASSERT_TRUE(pos[leap_pipeline_find(p, "train")] < pos[leap_pipeline_find(p, "eval")]);
    ASSERT_TRUE(!strcmp(leap_pipeline_get(p, "train", "alpha"), "0.1"));
    ASSERT_TRUE(!strcmp(leap_pipeline_get(p, "train", "epochs"), "2"));
    ASSERT_OK(leap_pipeline_set(p, "train.alpha=0.2", &err));
    ASSERT_OK(leap_pipeline_set(p, "train.l2=3", &err));
    ASSERT_OK(leap_pipeline_set(p, "train.epochs=5", &err));
    ASSERT_TRUE(!strcmp(leap_pipeline_get(p, "train", "alpha"), "0.2"));
    ASSERT_TRUE(!strcmp(leap_pipeline_get(p, "train", "set.l2"), "3"));
    ASSERT_EQ_INT(leap_pipeline_set(p, "train.alpha=-1", &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "alpha");
    ASSERT_EQ_INT(leap_pipeline_set(p, "split.alpha=1", &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_pipeline_set(p, "nope.alpha=1", &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_pipeline_set(p, "train=1", &err), LEAP_EINVAL);

    /* copy, write, read back: the same pipeline */
    leap_pipeline *c;
    ASSERT_OK(leap_pipeline_clone(p, &c, &err));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_OK(leap_pipeline_write(c, f));
    fclose(f);
    leap_pipeline *r;
    ASSERT_OK(leap_pipeline_parse(buf, len, "round.yaml", &r, &err));
    ASSERT_EQ_INT(r->n_steps, 3);
    ASSERT_TRUE(!strcmp(leap_pipeline_get(r, "train", "alpha"), "0.2"));
    ASSERT_TRUE(!strcmp(leap_pipeline_get(r, "train", "l2"), "3"));
    ASSERT_TRUE(!strcmp(leap_pipeline_get(r, "split", "fractions"), "0.8"));
    free(buf);
    leap_pipeline_free(r);
    leap_pipeline_free(c);
    leap_pipeline_free(p);
}

TEST(parse_errors_name_file_line_col) {
    char m[512];
    ASSERT_EQ_INT(
        parse_err("steps:\n  a:\n    kind: split\n    inputs: {data: x}\n    optoins: {}\n", m),
        LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "p.yaml:5:5: step 'a': unknown key 'optoins'");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {dta: x}}\n", m), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "p.yaml:2:29: step 'a': kind split has no input 'dta'");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split}\n", m), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "needs input 'data'");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {data: x}, options: {bi: 1}}\n", m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "has no option 'bi'");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {data: \"${a.train}\"}}\n", m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "refers to itself");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {data: \"${b.train}\"}}\n"
                            "  b: {kind: split, inputs: {data: \"${c.train}\"}}\n"
                            "  c: {kind: split, inputs: {data: \"${a.train}\"}}\n",
                            m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "cycle");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {data: \"${b\"}}\n", m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "malformed reference");
    ASSERT_EQ_INT(parse_err("steps:\n  a: {kind: split, inputs: {data: x}}\n  a: {kind: stats, "
                            "inputs: {data: x}}\n",
                            m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "duplicate step 'a'");
    ASSERT_EQ_INT(parse_err("steps:\n  t: {kind: train, inputs: {train: x}, options: {model: "
                            "nn9}}\n",
                            m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "unknown model 'nn9'");
    ASSERT_EQ_INT(parse_err("steps:\n  t: {kind: train, inputs: {train: x}, options: {set: {"
                            "hash_bits: 99}}}\n",
                            m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "hash_bits");
    ASSERT_EQ_INT(parse_err("a: &x {kind: split}\nsteps: {b: *x}\n", m), LEAP_EPARSE);
    ASSERT_EQ_INT(parse_err("steps: [\n", m), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "p.yaml:");
    ASSERT_EQ_INT(parse_err("", m), LEAP_EPARSE);
    ASSERT_EQ_INT(parse_err("steps: {}\n", m), LEAP_EPARSE);
    ASSERT_EQ_INT(parse_err("name: x\ncost: {cpu_hour: -1}\nsteps: {a: {kind: stats, inputs: "
                            "{data: x}}}\n",
                            m),
                  LEAP_EPARSE);
    ASSERT_STR_CONTAINS(m, "cost.cpu_hour");
}

TEST(sweep_params) {
    leap_err err = {0};
    leap_sweep_param p;
    char v[64];
    ASSERT_OK(leap_sweep_param_parse("train.alpha=loguniform(1e-3,1e-1)", &p, &err));
    ASSERT_EQ_INT(p.dist, LEAP_DIST_LOGUNIFORM);
    leap_sweep_param_value(&p, 0, 3, NULL, v, sizeof v);
    ASSERT_NEAR(atof(v), 1e-3, 1e-9);
    leap_sweep_param_value(&p, 1, 3, NULL, v, sizeof v);
    ASSERT_NEAR(atof(v), 1e-2, 1e-9); /* log-spaced grid */
    leap_rng rng = {5};
    for (int i = 0; i < 100; i++) {
        leap_sweep_param_value(&p, 0, 0, &rng, v, sizeof v);
        ASSERT_TRUE(atof(v) >= 1e-3 * 0.999 && atof(v) <= 0.1 * 1.001);
    }
    leap_sweep_param_free(&p);
    ASSERT_OK(leap_sweep_param_parse("train.l2=[0, 1e-6 ,1e-4]", &p, &err));
    ASSERT_EQ_INT(p.n_choices, 3);
    leap_sweep_param_value(&p, 1, 3, NULL, v, sizeof v);
    ASSERT_TRUE(!strcmp(v, "1e-6"));
    leap_sweep_param_free(&p);
    ASSERT_OK(leap_sweep_param_parse("train.epochs=int(1,4)", &p, &err));
    leap_sweep_param_value(&p, 3, 4, NULL, v, sizeof v);
    ASSERT_TRUE(!strcmp(v, "4"));
    ASSERT_EQ_INT(leap_sweep_param_parse("alpha=[1]", &p, &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_sweep_param_parse("t.a=loguniform(0,1)", &p, &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_sweep_param_parse("t.a=uniform(2,1)", &p, &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_sweep_param_parse("t.a=[1,,2]", &p, &err), LEAP_EINVAL);
}

TEST(bless_checks_parse) {
    leap_err err = {0};
    leap_bless_check c;
    ASSERT_OK(leap_bless_parse("auc >= 0.78", &c, &err));
    ASSERT_TRUE(c.op == LEAP_CHK_GE && !c.relative && c.value == 0.78);
    ASSERT_OK(leap_bless_parse("auc >= baseline - 0.001", &c, &err));
    ASSERT_TRUE(c.relative && fabs(c.value + 0.001) < 1e-15);
    ASSERT_OK(leap_bless_parse("logloss <= baseline", &c, &err));
    ASSERT_OK(leap_bless_parse("calibration within [0.95, 1.05]", &c, &err));
    ASSERT_TRUE(c.op == LEAP_CHK_WITHIN && c.lo == 0.95 && c.hi == 1.05);
    ASSERT_EQ_INT(leap_bless_parse("acu >= 1", &c, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 1");
    ASSERT_EQ_INT(leap_bless_parse("auc => 1", &c, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 5");
    ASSERT_EQ_INT(leap_bless_parse("auc >= 1 x", &c, &err), LEAP_EPARSE);
    ASSERT_EQ_INT(leap_bless_parse("calibration within [1.1, 0.9]", &c, &err), LEAP_EPARSE);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void metrics_json(const char *path, double auc, double calib) {
    char t[256];
    snprintf(t, sizeof t,
             "{\"metrics\": {\"n\": 100, \"auc\": %g, \"logloss\": 0.4, \"ne\": 0.9, "
             "\"calibration\": %g, \"pr_auc\": 0.5, \"base_rate\": 0.25}}",
             auc, calib);
    write_file(path, t);
}

TEST(push_gate_and_repository) {
    char dir[] = "/tmp/leap_test_push.XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char repo[128], m1[128], m2[128], m3[128], j1[128], j2[128], j3[128], p[256];
    snprintf(repo, sizeof repo, "%s/models", dir);
    snprintf(m1, sizeof m1, "%s/a.leap", dir);
    snprintf(m2, sizeof m2, "%s/b.leap", dir);
    snprintf(m3, sizeof m3, "%s/c.leap", dir);
    snprintf(j1, sizeof j1, "%s/a.json", dir);
    snprintf(j2, sizeof j2, "%s/b.json", dir);
    snprintf(j3, sizeof j3, "%s/c.json", dir);
    write_file(m1, "model one");
    write_file(m2, "model two (worse)");
    write_file(m3, "model three (better)");
    metrics_json(j1, 0.79, 1.0);
    metrics_json(j2, 0.785, 1.0);
    metrics_json(j3, 0.80, 1.01);
    leap_bless_check ch[3];
    leap_err err = {0};
    ASSERT_OK(leap_bless_parse("auc >= 0.78", &ch[0], &err));
    ASSERT_OK(leap_bless_parse("auc >= baseline - 0.001", &ch[1], &err));
    ASSERT_OK(leap_bless_parse("calibration within [0.95, 1.05]", &ch[2], &err));
    leap_push_opts o = {
        .model = m1, .metrics = j1, .repo = repo, .name = "ctr", .checks = ch, .n_checks = 3};
    leap_push_result r;
    ASSERT_OK(leap_push(&o, &r, &err));
    ASSERT_EQ_INT(r.decision, LEAP_PUSH_PUSHED); /* no baseline: relative check passes */
    ASSERT_EQ_INT(r.version, 1);
    ASSERT_TRUE(r.res[1].no_baseline);
    snprintf(p, sizeof p, "%s/ctr/1/model.leap", repo);
    ASSERT_TRUE(access(p, F_OK) == 0);
    ASSERT_EQ_INT(leap_repo_latest(repo, "ctr"), 1);
    ASSERT_OK(leap_push(&o, &r, &err)); /* the same bytes again: nothing new */
    ASSERT_EQ_INT(r.decision, LEAP_PUSH_CURRENT);
    o.model = m2, o.metrics = j2; /* worse than the baseline by more than 0.001 */
    ASSERT_OK(leap_push(&o, &r, &err));
    ASSERT_EQ_INT(r.decision, LEAP_PUSH_REFUSED);
    ASSERT_TRUE(r.have_base && fabs(r.base.auc - 0.79) < 1e-12);
    ASSERT_TRUE(!r.res[1].pass && r.res[0].pass);
    ASSERT_STR_CONTAINS(r.reason, "baseline");
    ASSERT_EQ_INT(leap_repo_latest(repo, "ctr"), 1);
    o.model = m3, o.metrics = j3;
    ASSERT_OK(leap_push(&o, &r, &err));
    ASSERT_EQ_INT(r.decision, LEAP_PUSH_PUSHED);
    ASSERT_EQ_INT(r.version, 2);
    metrics_json(j3, 0.81, 1.2); /* out of the calibration interval */
    o.model = m1, o.metrics = j3;
    ASSERT_OK(leap_push(&o, &r, &err));
    ASSERT_EQ_INT(r.decision, LEAP_PUSH_REFUSED);
    ASSERT_STR_CONTAINS(r.reason, "calibration");
    o.name = "../evil";
    ASSERT_EQ_INT(leap_push(&o, &r, &err), LEAP_EINVAL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_EQ_INT(system(cmd), 0);
}
