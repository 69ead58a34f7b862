/* leap/push.h — pushing a model into the model repository behind a blessing
 * gate (as TFX's Evaluator blesses and its Pusher copies).
 *
 * Repository layout (the one the server watches): REPO/NAME/VERSION/ with
 * model.leap and metrics.json (the metrics that blessed it), VERSION an
 * increasing integer. A version folder is written under a temporary name
 * and renamed into place, so a reader never sees half a version. The
 * currently pushed model is the highest version.
 *
 * Thresholds ("checks") are absolute (`auc >= 0.78`), relative to the
 * currently pushed model (`auc >= baseline - 0.001`, `logloss <= baseline`)
 * or intervals (`calibration within [0.95, 1.05]`). With no pushed model
 * yet, relative checks pass. Metrics: auc, logloss, ne, calibration, pr_auc,
 * base_rate. The library prints nothing.
 */
#ifndef LEAP_PUSH_H
#define LEAP_PUSH_H

#include "leap/eval.h"

typedef enum leap_check_op {
    LEAP_CHK_GE,
    LEAP_CHK_LE,
    LEAP_CHK_GT,
    LEAP_CHK_LT,
    LEAP_CHK_WITHIN
} leap_check_op;

typedef struct leap_bless_check {
    char text[160]; /* as written */
    char metric[32];
    leap_check_op op;
    int relative;  /* threshold = baseline + delta */
    double value;  /* absolute threshold, or delta when relative */
    double lo, hi; /* WITHIN */
} leap_bless_check;

/* Parses one check; errors name the column ("--require 'auc >> 1', column 5: ..."). */
int leap_bless_parse(const char *text, leap_bless_check *c, leap_err *err);

typedef struct leap_push_opts {
    const char *model;   /* candidate bundle */
    const char *metrics; /* `leap eval --json` output for the candidate, or NULL */
    const char *data;    /* dataset to score candidate and baseline on, or NULL */
    const char *repo;    /* repository folder ("models") */
    const char *name;    /* model name: [A-Za-z0-9_.-]+ */
    const leap_bless_check *checks;
    size_t n_checks;
    int threads;
} leap_push_opts;

typedef enum leap_push_decision {
    LEAP_PUSH_PUSHED,
    LEAP_PUSH_REFUSED,
    LEAP_PUSH_CURRENT
} leap_push_decision;
#define LEAP_PUSH_MAX_CHECKS 16

typedef struct leap_push_result {
    leap_push_decision decision;
    int64_t version;          /* PUSHED: the new version; CURRENT: the served one */
    int64_t baseline_version; /* 0 = none */
    char path[4096];          /* the pushed model.leap (PUSHED, CURRENT) */
    leap_metrics cand, base;
    int have_base;
    struct {
        int pass, no_baseline;
        double value, lo, hi; /* the candidate's value and the bounds it was held to */
    } res[LEAP_PUSH_MAX_CHECKS];
    char reason[512]; /* REFUSED: the failed checks */
} leap_push_result;

/* Decides and, when blessed, copies. Candidate metrics come from o->metrics
 * or from scoring o->data; the baseline's from scoring o->data, else from
 * its metrics.json. Returns an error only when no decision could be made. */
int leap_push(const leap_push_opts *o, leap_push_result *r, leap_err *err);
/* The decision as one JSON object (C locale), with the checks and numbers. */
void leap_push_write_json(FILE *f, const leap_push_opts *o, const leap_push_result *r);
const char *leap_push_decision_name(leap_push_decision d);
/* Highest version under REPO/NAME (0 when none). */
int64_t leap_repo_latest(const char *repo, const char *name);

#endif
