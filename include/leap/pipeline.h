/* leap/pipeline.h — pipeline files, the step DAG, cached execution, sweeps.
 *
 * A pipeline file (YAML) names steps of the kinds leap has (ingest, split,
 * stats, schema, validate, transform_fit, train, eval, predict, push,
 * datagen), their options and their inputs, which are file paths or
 * references to other steps' outputs (`${split.train}`):
 *
 *     name: ctr
 *     steps:
 *       ingest: {kind: ingest, inputs: {data: logs.tsv}, options: {format: criteo}}
 *       split:  {kind: split, inputs: {data: "${ingest.dataset}"}}
 *       train:
 *         kind: train
 *         inputs: {train: "${split.train}", valid: "${split.valid}"}
 *         options: {model: lr, epochs: 3, set: {alpha: 0.05}}
 *
 * leap_pipeline_load checks the whole file before anything runs (unknown
 * keys, unknown kinds, options and model options with their ranges, missing
 * references, cycles) and names FILE:LINE:COL. leap_pipe_run runs the DAG:
 * each step is a child process of the leap binary with an argv built from
 * the step's table row (below), independent steps in parallel up to `jobs`.
 * A step's cache key hashes its kind, options, its inputs' content hashes
 * and leap's version; a key that already finished (recorded in the tracking
 * store, outputs still present with the same hashes) is not run again.
 * Every step is a run in the store, with its cost. The library prints
 * nothing: progress comes to the caller through on_event.
 */
#ifndef LEAP_PIPELINE_H
#define LEAP_PIPELINE_H

#include "leap/track.h"

/* ---- step kinds (one table row each, in pipeline_parse.c) ------------------ */
enum { LEAP_SLOT_REQUIRED = 1, LEAP_SLOT_MULTI = 2 };
enum { LEAP_OUT_OPTIONAL = 1, LEAP_OUT_STDOUT = 2 };
typedef enum leap_optkind {
    LEAP_PO_VALUE, /* --flag VALUE */
    LEAP_PO_BOOL,  /* --flag when true */
    LEAP_PO_SET,   /* map: --flag k=v per entry (train's model options) */
    LEAP_PO_LIST,  /* list: --flag ITEM per item */
    LEAP_PO_JOIN   /* list or scalar: --flag a,b,c */
} leap_optkind;

typedef struct leap_step_kind {
    const char *name;
    const char *help;
    const char *argv[3]; /* sub-command words after the binary */
    struct leap_step_slot {
        const char *name, *flag; /* flag NULL: positional */
        unsigned flags;
    } in[6];
    struct leap_step_out {
        const char *name, *file; /* file in the step's output folder */
        unsigned flags;
    } out[4];
    const char *out_flag; /* "-o" with out_arg; NULL when the outputs are stdout */
    const char *out_arg;  /* file name (or prefix, for split) passed with out_flag */
    struct leap_step_opt {
        const char *key, *flag;
        leap_optkind kind;
    } opts[12];
    const char *fixed[3]; /* always passed: "--json" */
} leap_step_kind;

size_t leap_step_kind_count(void);
const leap_step_kind *leap_step_kind_at(size_t i);
const leap_step_kind *leap_step_kind_find(const char *name);

/* ---- a loaded pipeline ------------------------------------------------------ */
typedef enum leap_pl_vtype { LEAP_PL_SCALAR, LEAP_PL_LIST, LEAP_PL_MAP } leap_pl_vtype;

typedef struct leap_pl_opt {
    char *key;
    leap_pl_vtype type;
    char *value;  /* SCALAR */
    char **items; /* LIST: values; MAP: "key=value" */
    size_t n_items;
    long line, col; /* 1-based; 0 when set from the command line */
} leap_pl_opt;

typedef struct leap_pl_ref {
    char *path;        /* a file (literal input), or NULL */
    char *step;        /* referenced step (when path is NULL) */
    char *output;      /* its output */
    size_t step_index; /* resolved */
    long line, col;
} leap_pl_ref;

typedef struct leap_pl_input {
    char *name;
    leap_pl_ref *refs;
    size_t n_refs;
    long line, col;
} leap_pl_input;

typedef struct leap_pl_step {
    char *name;
    const leap_step_kind *kind;
    long line, col;
    leap_pl_input *inputs;
    size_t n_inputs;
    leap_pl_opt *opts;
    size_t n_opts;
    size_t *deps; /* steps this one waits for (inputs and `after`) */
    size_t n_deps;
} leap_pl_step;

typedef struct leap_pipeline {
    char *file, *name, *experiment;
    int has_price;
    leap_price price;
    leap_pl_step *steps;
    size_t n_steps;
    size_t *order; /* a topological order of the steps */
} leap_pipeline;

/* Parses and checks a pipeline from text (name is used in messages and as
 * the default pipeline name). Errors: LEAP_EPARSE with "NAME:LINE:COL: ...".
 * Free with leap_pipeline_free. */
int leap_pipeline_parse(const char *text, size_t len, const char *name, leap_pipeline **out,
                        leap_err *err);
/* Reads path and parses it. */
int leap_pipeline_load(const char *path, leap_pipeline **out, leap_err *err);
void leap_pipeline_free(leap_pipeline *p);
/* Deep copy (for sweep trials). */
int leap_pipeline_clone(const leap_pipeline *p, leap_pipeline **out, leap_err *err);
/* Sets an option "STEP.KEY=VALUE" (KEY an option of the step's kind, or a
 * model/trainer option of a train step, set as set.KEY), checked as in a
 * file. */
int leap_pipeline_set(leap_pipeline *p, const char *assignment, leap_err *err);
/* The value of option STEP.KEY (or set.KEY) as text, NULL when unset. */
const char *leap_pipeline_get(const leap_pipeline *p, const char *step, const char *key);
/* Index of a step by name, -1 when absent. */
int leap_pipeline_find(const leap_pipeline *p, const char *step);
/* Writes p as a pipeline file. */
int leap_pipeline_write(const leap_pipeline *p, FILE *f);

/* ---- running --------------------------------------------------------------- */
typedef enum leap_pipe_ev_type {
    LEAP_EV_START,   /* a step's process started */
    LEAP_EV_CACHED,  /* a step's key had finished before: outputs reused */
    LEAP_EV_DONE,    /* a step finished */
    LEAP_EV_FAILED,  /* a step failed (exit code, log) */
    LEAP_EV_SKIPPED, /* a step did not run because an input failed */
} leap_pipe_ev_type;

typedef struct leap_pipe_event {
    leap_pipe_ev_type type;
    size_t job; /* index into the jobs of leap_pipe_run */
    const char *step, *kind;
    int64_t run;               /* the step's run id */
    int64_t cached_from;       /* CACHED: the run that produced the outputs */
    const char *key;           /* cache key (hex) */
    const leap_run_cost *cost; /* DONE/FAILED */
    const char *summary;       /* DONE/CACHED: "auc 0.7612 logloss 0.4501", push decision */
    const char *log;           /* FAILED: log path */
    const char *message;       /* FAILED: reason and the log's last lines */
} leap_pipe_event;

typedef struct leap_pipe_opts {
    leap_track *store;        /* required */
    const char *exe;          /* the leap binary to run steps with */
    const char *workdir;      /* outputs go to WORKDIR/steps/STEP/KEY.RUN/ (default ".leap") */
    int jobs;                 /* steps run at once (>= 1) */
    const char *const *force; /* steps to rerun with everything downstream */
    size_t n_force;
    leap_price price;
    const char *experiment; /* overrides the pipeline's */
    void (*on_event)(void *ud, const leap_pipe_event *ev);
    void *ud;
} leap_pipe_opts;

/* One pipeline execution; several run at once share the job slots and
 * never start two processes for one cache key. */
typedef struct leap_pipe_job {
    const leap_pipeline *pl; /* in */
    int64_t parent;          /* in: parent of a created pipeline run (0 = none) */
    int64_t run;             /* in: record steps under this run (0 = create one); out: it */
    const char *run_name;    /* in: name of a created run (NULL = the pipeline's) */
    int64_t metric_step;     /* in: step number of metrics copied to the pipeline run */
    /* out */
    leap_run_status status; /* FINISHED when every step finished or was cached */
    size_t n_ran, n_cached, n_failed, n_skipped;
    leap_run_cost cost; /* summed over steps that ran (wall: elapsed) */
} leap_pipe_job;

/* Runs the jobs to completion. Returns LEAP_OK when the jobs could be
 * executed (a failed step is reported in the job's status, not here). */
int leap_pipe_run(leap_pipe_job *jobs, size_t n_jobs, const leap_pipe_opts *o, leap_err *err);

/* ---- sweeps ---------------------------------------------------------------- */
/* "STEP.KEY=SPEC": SPEC is [a,b,c] (choices), loguniform(a,b), uniform(a,b),
 * int(a,b), or one value. */
typedef enum leap_dist {
    LEAP_DIST_CHOICE,
    LEAP_DIST_UNIFORM,
    LEAP_DIST_LOGUNIFORM,
    LEAP_DIST_INT
} leap_dist;
typedef struct leap_sweep_param {
    char target[128]; /* STEP.KEY */
    leap_dist dist;
    double lo, hi;
    char **choices;
    size_t n_choices;
} leap_sweep_param;
int leap_sweep_param_parse(const char *text, leap_sweep_param *p, leap_err *err);
void leap_sweep_param_free(leap_sweep_param *p);
/* Value i of n grid points (choices: the i-th choice; ranges: n points evenly
 * spaced, on a log scale for loguniform), or a draw from rng when rng is
 * non-NULL. Written as text into buf ("%.6g"). */
void leap_sweep_param_value(const leap_sweep_param *p, size_t i, size_t n, leap_rng *rng, char *buf,
                            size_t len);

#endif
