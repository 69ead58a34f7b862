/* pipeline_run.c — runs pipelines: a scheduler over one or more pipeline
 * executions (jobs) that share `jobs` process slots. Each step is a child
 * process of the leap binary (argv from the step kind's table row); its
 * stderr goes to a log in the step's output folder, and its cost comes from
 * wait4 (CPU, peak RSS) and /proc/PID/io (bytes through read/write).
 *
 * Caching: a step's key is XXH3 over leap's version, the kind, the options
 * (sorted) and the content hashes of its inputs. Before starting a step the
 * store is asked for finished runs with that key; the newest whose outputs
 * still exist with the recorded hashes is reused and the step is recorded
 * as "cached". Outputs go to WORKDIR/steps/STEP/KEY.RUN/, a folder per run,
 * so a killed step never leaves anything a later run would trust: only a
 * run marked finished (after its outputs were hashed) is ever reused.
 * Does not print; progress goes to on_event. */
#define _GNU_SOURCE
#include "leap/bundle.h"
#include "leap/pipeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define MAX_OUT 4
#define MAX_MET 32

enum { S_WAIT, S_RUNNING, S_DONE, S_FAILED, S_SKIPPED };

typedef struct step_rt {
    int state, forced, cached;
    char key[17];
    int64_t run;
    pid_t pid;
    double t0;
    char outdir[1024], log[1100];
    char *out_path[MAX_OUT];
    uint64_t out_hash[MAX_OUT], out_size[MAX_OUT];
} step_rt;

typedef struct job_rt {
    leap_pipe_job *job;
    const leap_pipeline *pl;
    step_rt *st;
    int created_run;
    double t0;
} job_rt;

typedef struct sched {
    const leap_pipe_opts *o;
    job_rt *jobs;
    size_t n_jobs;
    int running;
    leap_err *err;
} sched;

static double mono_now(void) { return leap_now(); }

static int mkdirs(const char *path) {
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

static void emit(sched *s, leap_pipe_event *ev) {
    if (s->o->on_event) s->o->on_event(s->o->ud, ev);
}

/* ---- inputs, keys, argv -------------------------------------------------------- */
static int out_index(const leap_step_kind *k, const char *name) {
    for (int i = 0; i < MAX_OUT && k->out[i].name; i++)
        if (!strcmp(k->out[i].name, name)) return i;
    return -1;
}

/* Path and hash of ref (a literal file, or an upstream step's output). */
static int ref_file(sched *s, job_rt *j, const leap_pl_ref *r, const char **path, uint64_t *hash,
                    uint64_t *size, leap_err *err) {
    if (r->path) {
        *path = r->path;
        return leap_file_hash(r->path, hash, size, err);
    }
    (void)s;
    const leap_pl_step *up = &j->pl->steps[r->step_index];
    step_rt *u = &j->st[r->step_index];
    int oi = out_index(up->kind, r->output);
    if (oi < 0 || !u->out_path[oi])
        return leap_err_set(err, LEAP_ENOTFOUND, "step '%s' wrote no output '%s'", up->name,
                            r->output);
    *path = u->out_path[oi];
    *hash = u->out_hash[oi];
    *size = u->out_size[oi];
    return LEAP_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The cache key: leap version, kind, sorted options, inputs' content hashes. */
static int step_key(sched *s, job_rt *j, size_t si, char key[17], leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    leap_buf b = {0};
    char line[1200];
    int rc = LEAP_OK, n;
    n = snprintf(line, sizeof line, "leap %s\nkind %s\n", LEAP_VERSION, st->kind->name);
    if (leap_buf_append(&b, line, (size_t)n)) goto oom;
    const char **keys = calloc(st->n_opts + 1, sizeof *keys);
    if (!keys) goto oom;
    for (size_t i = 0; i < st->n_opts; i++)
        keys[i] = st->opts[i].key;
    qsort(keys, st->n_opts, sizeof *keys, cmp_str);
    for (size_t i = 0; i < st->n_opts && !rc; i++) {
        const leap_pl_opt *o = NULL;
        for (size_t k = 0; k < st->n_opts; k++)
            if (st->opts[k].key == keys[i]) o = &st->opts[k];
        n = snprintf(line, sizeof line, "opt %s=", o->key);
        if (leap_buf_append(&b, line, (size_t)n)) rc = LEAP_ENOMEM;
        if (o->type == LEAP_PL_SCALAR) {
            if (leap_buf_append(&b, o->value, strlen(o->value))) rc = LEAP_ENOMEM;
        } else {
            char **items = calloc(o->n_items + 1, sizeof *items);
            if (!items) {
                rc = LEAP_ENOMEM;
                break;
            }
            if (o->n_items) memcpy(items, o->items, o->n_items * sizeof *items);
            if (o->type == LEAP_PL_MAP) qsort(items, o->n_items, sizeof *items, cmp_str);
            for (size_t k = 0; k < o->n_items && !rc; k++)
                if (leap_buf_append(&b, items[k], strlen(items[k])) ||
                    leap_buf_append(&b, "\x1f", 1))
                    rc = LEAP_ENOMEM;
            free(items);
        }
        if (leap_buf_append(&b, "\n", 1)) rc = LEAP_ENOMEM;
    }
    free(keys);
    if (rc) goto oom;
    for (size_t slot = 0; slot < 6 && st->kind->in[slot].name; slot++) {
        for (size_t i = 0; i < st->n_inputs; i++) {
            if (strcmp(st->inputs[i].name, st->kind->in[slot].name)) continue;
            n = snprintf(line, sizeof line, "in %s=", st->inputs[i].name);
            if (leap_buf_append(&b, line, (size_t)n)) goto oom;
            for (size_t k = 0; k < st->inputs[i].n_refs; k++) {
                const char *path;
                uint64_t h, sz;
                if ((rc = ref_file(s, j, &st->inputs[i].refs[k], &path, &h, &sz, err))) {
                    leap_buf_free(&b);
                    return rc;
                }
                n = snprintf(line, sizeof line, "%016llx,", (unsigned long long)h);
                if (leap_buf_append(&b, line, (size_t)n)) goto oom;
            }
            if (leap_buf_append(&b, "\n", 1)) goto oom;
        }
    }
    snprintf(key, 17, "%016llx", (unsigned long long)XXH3_64bits(b.p, b.len));
    leap_buf_free(&b);
    return LEAP_OK;
oom:
    leap_buf_free(&b);
    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
}

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static int sv_push(strv *a, const char *s) {
    if (a->n + 2 > a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    if (!(a->v[a->n] = strdup(s))) return -1;
    a->v[++a->n] = NULL;
    return 0;
}

static void sv_free(strv *a) {
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static const leap_pl_opt *step_opt(const leap_pl_step *st, const char *key) {
    for (size_t i = 0; i < st->n_opts; i++)
        if (!strcmp(st->opts[i].key, key)) return &st->opts[i];
    return NULL;
}

static int build_argv(sched *s, job_rt *j, size_t si, strv *a, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    const leap_step_kind *k = st->kind;
    step_rt *r = &j->st[si];
    int bad = sv_push(a, s->o->exe);
    for (int i = 0; i < 3 && k->argv[i]; i++)
        bad |= sv_push(a, k->argv[i]);
    for (size_t slot = 0; slot < 6 && k->in[slot].name; slot++)
        for (size_t i = 0; i < st->n_inputs; i++) {
            if (strcmp(st->inputs[i].name, k->in[slot].name)) continue;
            for (size_t q = 0; q < st->inputs[i].n_refs; q++) {
                const char *path;
                uint64_t h, sz;
                int rc = ref_file(s, j, &st->inputs[i].refs[q], &path, &h, &sz, err);
                if (rc) return rc;
                if (k->in[slot].flag) bad |= sv_push(a, k->in[slot].flag);
                bad |= sv_push(a, path);
            }
        }
    for (size_t i = 0; i < 12 && k->opts[i].key; i++) {
        const leap_pl_opt *o = step_opt(st, k->opts[i].key);
        if (!o) continue;
        const char *flag = k->opts[i].flag;
        switch (k->opts[i].kind) {
        case LEAP_PO_VALUE: bad |= sv_push(a, flag) | sv_push(a, o->value ? o->value : ""); break;
        case LEAP_PO_BOOL:
            if (o->value && !strcmp(o->value, "true")) bad |= sv_push(a, flag);
            break;
        case LEAP_PO_SET:
        case LEAP_PO_LIST:
            for (size_t q = 0; q < o->n_items; q++)
                bad |= sv_push(a, flag) | sv_push(a, o->items[q]);
            break;
        case LEAP_PO_JOIN: {
            leap_buf b = {0};
            if (o->type == LEAP_PL_SCALAR) {
                bad |= leap_buf_append(&b, o->value, strlen(o->value));
            } else {
                for (size_t q = 0; q < o->n_items; q++)
                    bad |= leap_buf_append(&b, ",", q ? 1 : 0) |
                           leap_buf_append(&b, o->items[q], strlen(o->items[q]));
            }
            bad |= leap_buf_append(&b, "", 1);
            bad |= sv_push(a, flag) | sv_push(a, b.p ? (const char *)b.p : "");
            leap_buf_free(&b);
            break;
        }
        }
    }
    for (int i = 0; i < 3 && k->fixed[i]; i++)
        bad |= sv_push(a, k->fixed[i]);
    if (k->out_flag) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", r->outdir, k->out_arg);
        bad |= sv_push(a, k->out_flag) | sv_push(a, p);
    }
    return bad ? leap_err_set(err, LEAP_ENOMEM, "out of memory") : LEAP_OK;
}

/* Params of a step run: its options as text. */
static int log_step_params(leap_track *t, int64_t run, const leap_pl_step *st, const char *prefix,
                           leap_err *err) {
    leap_kv kv[64];
    char *bufs[64];
    size_t n = 0;
    int rc = LEAP_OK;
    for (size_t i = 0; i < st->n_opts && n < 60; i++) {
        const leap_pl_opt *o = &st->opts[i];
        if (o->type == LEAP_PL_MAP) {
            for (size_t q = 0; q < o->n_items && n < 60; q++) {
                const char *eq = strchr(o->items[q], '=');
                if (!eq) continue;
                size_t len = strlen(prefix) + strlen(o->items[q]) + 2;
                bufs[n] = malloc(len);
                if (!bufs[n]) break;
                snprintf(bufs[n], len, "%s%.*s", prefix, (int)(eq - o->items[q]), o->items[q]);
                kv[n].key = bufs[n];
                kv[n++].value = eq + 1;
            }
            continue;
        }
        leap_buf b = {0};
        if (o->type == LEAP_PL_SCALAR) {
            leap_buf_append(&b, o->value, strlen(o->value));
        } else {
            for (size_t q = 0; q < o->n_items; q++) {
                if (q) leap_buf_append(&b, "; ", 2);
                leap_buf_append(&b, o->items[q], strlen(o->items[q]));
            }
        }
        leap_buf_append(&b, "", 1);
        size_t kl = strlen(prefix) + strlen(o->key) + 2;
        char *key = malloc(kl);
        if (!key || !b.p) {
            free(key);
            leap_buf_free(&b);
            break;
        }
        snprintf(key, kl, "%s%s", prefix, o->key);
        /* the value buffer is appended after the key in one allocation */
        size_t vl = strlen((char *)b.p) + 1;
        char *both = realloc(key, kl + vl);
        if (!both) {
            free(key);
            leap_buf_free(&b);
            break;
        }
        memcpy(both + kl, b.p, vl);
        leap_buf_free(&b);
        bufs[n] = both;
        kv[n].key = both;
        kv[n++].value = both + kl;
    }
    if (n) rc = leap_track_log_params(t, run, kv, n, err);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    return rc;
}

/* ---- harvesting metrics from outputs ------------------------------------------- */
typedef struct harvest {
    leap_metric_point m[MAX_MET];
    char keys[MAX_MET][64];
    size_t n;
    leap_kv tags[4];
    char tagv[4][160];
    size_t n_tags;
    char pushed[1024];
    char summary[256];
} harvest;

static void h_add(harvest *h, const char *key, double v) {
    if (h->n >= MAX_MET || !isfinite(v)) return;
    snprintf(h->keys[h->n], sizeof h->keys[h->n], "%s", key);
    h->m[h->n] = (leap_metric_point){h->keys[h->n], v, 0, 0};
    h->n++;
}
static void h_tag(harvest *h, const char *key, const char *v) {
    if (h->n_tags >= 4) return;
    snprintf(h->tagv[h->n_tags], sizeof h->tagv[0], "%s", v);
    h->tags[h->n_tags] = (leap_kv){key, h->tagv[h->n_tags]};
    h->n_tags++;
}
static double h_get(const harvest *h, const char *key) {
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->keys[i], key)) return h->m[i].value;
    return NAN;
}
static const char *h_tagget(const harvest *h, const char *key) {
    for (size_t i = 0; i < h->n_tags; i++)
        if (!strcmp(h->tags[i].key, key)) return h->tags[i].value;
    return NULL;
}

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    leap_buf b = {0};
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (64u << 20))
        if (leap_buf_append(&b, chunk, got)) break;
    fclose(f);
    cJSON *j = b.p ? cJSON_ParseWithLength((const char *)b.p, b.len) : NULL;
    leap_buf_free(&b);
    return j;
}

static void summarize(const char *kind, harvest *h) {
    h->summary[0] = 0;
    if (!strcmp(kind, "eval")) {
        snprintf(h->summary, sizeof h->summary, "auc %.4f  logloss %.5f  calibration %.3f",
                 h_get(h, "auc"), h_get(h, "logloss"), h_get(h, "calibration"));
    } else if (!strcmp(kind, "train")) {
        double v = h_get(h, "valid_logloss"), e = h_get(h, "epochs_run");
        if (!isnan(v))
            snprintf(h->summary, sizeof h->summary, "valid logloss %.5f, %.0f epoch(s)", v, e);
        else if (!isnan(h_get(h, "train_logloss")))
            snprintf(h->summary, sizeof h->summary, "train logloss %.5f, %.0f epoch(s)",
                     h_get(h, "train_logloss"), e);
    } else if (!strcmp(kind, "push")) {
        const char *d = h_tagget(h, "decision"), *why = h_tagget(h, "reason");
        double v = h_get(h, "version");
        if (why)
            snprintf(h->summary, sizeof h->summary, "%s: %s", d ? d : "?", why);
        else if (!isnan(v) && v > 0)
            snprintf(h->summary, sizeof h->summary, "%s: version %.0f", d ? d : "?", v);
        else
            snprintf(h->summary, sizeof h->summary, "%s", d ? d : "?");
    }
}

static void harvest_outputs(const leap_pl_step *st, step_rt *r, harvest *h) {
    const char *kind = st->kind->name;
    if (!strcmp(kind, "eval") && r->out_path[0]) {
        cJSON *j = read_json(r->out_path[0]);
        cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "metrics") : NULL;
        static const char *const keys[] = {"n",  "base_rate",   "auc",   "logloss",
                                           "ne", "calibration", "pr_auc"};
        for (size_t i = 0; m && i < sizeof keys / sizeof keys[0]; i++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(m, keys[i]);
            if (cJSON_IsNumber(v)) h_add(h, keys[i], v->valuedouble);
        }
        cJSON_Delete(j);
    } else if (!strcmp(kind, "train") && r->out_path[0]) {
        leap_bundle b;
        leap_err e = {0};
        memset(&b, 0, sizeof b);
        if (leap_bundle_load(r->out_path[0], &b, &e) == 0) {
            for (size_t i = 0; i < b.n_meta; i++) {
                double v;
                const char *k = b.keys[i];
                if (leap_parse_double(b.vals[i], &v)) continue;
                if (!strncmp(k, "metrics.", 8))
                    h_add(h, k + 8, v);
                else if (!strcmp(k, "trainer.epochs_run") || !strcmp(k, "trainer.best_epoch") ||
                         !strcmp(k, "trainer.examples_per_s"))
                    h_add(h, k + 8, v);
            }
            leap_bundle_free(&b);
        }
    } else if (!strcmp(kind, "push") && r->out_path[0]) {
        cJSON *j = read_json(r->out_path[0]);
        cJSON *d = j ? cJSON_GetObjectItemCaseSensitive(j, "decision") : NULL;
        if (cJSON_IsString(d)) {
            h_tag(h, "decision", d->valuestring);
            h_add(h, "blessed", strcmp(d->valuestring, "refused") ? 1 : 0);
        }
        cJSON *why = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
        if (cJSON_IsString(why) && why->valuestring[0]) h_tag(h, "reason", why->valuestring);
        cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, "version") : NULL;
        if (cJSON_IsNumber(v)) h_add(h, "version", v->valuedouble);
        cJSON *p = j ? cJSON_GetObjectItemCaseSensitive(j, "path") : NULL;
        if (cJSON_IsString(p)) snprintf(h->pushed, sizeof h->pushed, "%s", p->valuestring);
        static const char *const sides[] = {"candidate", "baseline"};
        for (int s = 0; s < 2; s++) {
            cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, sides[s]) : NULL;
            cJSON *it;
            cJSON_ArrayForEach(it, m) {
                if (!cJSON_IsNumber(it) || !it->string) continue;
                char k[64];
                snprintf(k, sizeof k, "%s.%s", sides[s], it->string);
                h_add(h, k, it->valuedouble);
            }
        }
        cJSON_Delete(j);
    }
    summarize(kind, h);
}

/* Copies a step's metrics to the pipeline run as STEP.KEY. */
static int copy_to_pipeline(job_rt *j, leap_track *t, const char *step, const harvest *h,
                            leap_err *err) {
    leap_metric_point m[MAX_MET];
    char keys[MAX_MET][160];
    for (size_t i = 0; i < h->n; i++) {
        snprintf(keys[i], sizeof keys[i], "%s.%s", step, h->keys[i]);
        m[i] = (leap_metric_point){keys[i], h->m[i].value, j->job->metric_step, 0};
    }
    return leap_track_log_metrics(t, j->job->run, m, h->n, err);
}

/* ---- starting a step --------------------------------------------------------------- */
static int log_inputs(sched *s, job_rt *j, size_t si, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    for (size_t i = 0; i < st->n_inputs; i++)
        for (size_t q = 0; q < st->inputs[i].n_refs; q++) {
            leap_artifact a = {.role = st->inputs[i].name, .dir = LEAP_ART_IN};
            int rc = ref_file(s, j, &st->inputs[i].refs[q], &a.path, &a.hash, &a.size, err);
            if (!rc) rc = leap_track_log_artifacts(s->o->store, j->st[si].run, &a, 1, err);
            if (rc) return rc;
        }
    return LEAP_OK;
}

static int begin_step_run(sched *s, job_rt *j, size_t si, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    leap_run_start rs = {.experiment = s->o->experiment ? s->o->experiment : j->pl->experiment,
                         .name = st->name,
                         .kind = st->kind->name,
                         .parent = j->job->run,
                         .step_key = j->st[si].key};
    leap_track *t = s->o->store;
    int rc = leap_track_batch_begin(t, err);
    if (rc) return rc;
    if (!(rc = leap_track_run_begin(t, &rs, &j->st[si].run, err)) &&
        !(rc = log_step_params(t, j->st[si].run, st, "", err)))
        rc = log_inputs(s, j, si, err);
    if (rc) {
        leap_err e2;
        leap_track_batch_commit(t, &e2);
        return rc;
    }
    return leap_track_batch_commit(t, err);
}

/* Reuses a finished run with this key when all its outputs still hash the
 * same. Returns 1 when reused. */
static int try_cache(sched *s, job_rt *j, size_t si, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    step_rt *r = &j->st[si];
    int64_t cands[8];
    size_t nc;
    if (leap_track_find_by_key(s->o->store, r->key, cands, 8, &nc, err)) return -1;
    for (size_t c = 0; c < nc; c++) {
        leap_run_detail d;
        if (leap_track_run_get(s->o->store, cands[c], &d, err)) return -1;
        int ok = 1;
        for (size_t a = 0; a < d.n_artifacts && ok; a++) {
            const struct leap_artifact_rec *ar = &d.artifacts[a];
            if (ar->dir != LEAP_ART_OUT || !strcmp(ar->role, "log")) continue;
            uint64_t h, sz;
            leap_err e2;
            ok = leap_file_hash(ar->path, &h, &sz, &e2) == 0 && h == ar->hash && sz == ar->size;
        }
        for (int o = 0; ok && o < MAX_OUT && st->kind->out[o].name; o++) {
            int found = 0;
            for (size_t a = 0; a < d.n_artifacts; a++) {
                const struct leap_artifact_rec *ar = &d.artifacts[a];
                if (ar->dir != LEAP_ART_OUT || strcmp(ar->role, st->kind->out[o].name)) continue;
                free(r->out_path[o]);
                r->out_path[o] = strdup(ar->path);
                r->out_hash[o] = ar->hash;
                r->out_size[o] = ar->size;
                found = 1;
            }
            if (!found && !(st->kind->out[o].flags & LEAP_OUT_OPTIONAL)) ok = 0;
        }
        if (!ok) {
            leap_run_detail_free(&d);
            for (int o = 0; o < MAX_OUT; o++) {
                free(r->out_path[o]);
                r->out_path[o] = NULL;
            }
            continue;
        }
        /* Record the cached step: same inputs, the reused outputs, metrics
         * and tags copied from the run that produced them. */
        harvest h = {0};
        for (size_t m = 0; m < d.n_metrics; m++)
            h_add(&h, d.metrics[m].key, d.metrics[m].value);
        for (size_t t = 0; t < d.n_tags; t++)
            if (!strcmp(d.tags[t].key, "decision") || !strcmp(d.tags[t].key, "reason"))
                h_tag(&h, d.tags[t].key, d.tags[t].value);
        summarize(st->kind->name, &h);
        leap_track *t = s->o->store;
        int rc = begin_step_run(s, j, si, err);
        char from[32];
        snprintf(from, sizeof from, "%lld", (long long)cands[c]);
        if (!rc) rc = leap_track_batch_begin(t, err);
        if (!rc) {
            for (size_t a = 0; a < d.n_artifacts && !rc; a++) {
                const struct leap_artifact_rec *ar = &d.artifacts[a];
                if (ar->dir != LEAP_ART_OUT) continue;
                leap_artifact art = {ar->path, ar->role, ar->size, ar->hash, LEAP_ART_OUT};
                rc = leap_track_log_artifacts(t, r->run, &art, 1, err);
            }
            leap_kv tag = {"cached_from", from};
            if (!rc) rc = leap_track_set_tags(t, r->run, &tag, 1, err);
            if (!rc && h.n_tags) rc = leap_track_set_tags(t, r->run, h.tags, h.n_tags, err);
            if (!rc) rc = leap_track_log_metrics(t, r->run, h.m, h.n, err);
            if (!rc) rc = copy_to_pipeline(j, t, st->name, &h, err);
            leap_run_cost zero = {0};
            if (!rc) rc = leap_track_run_end(t, r->run, LEAP_RUN_CACHED, &zero, err);
            leap_err e2;
            if (rc)
                leap_track_batch_commit(t, &e2);
            else
                rc = leap_track_batch_commit(t, err);
        }
        leap_run_detail_free(&d);
        if (rc) return -1;
        r->state = S_DONE;
        r->cached = 1;
        j->job->n_cached++;
        leap_pipe_event ev = {.type = LEAP_EV_CACHED,
                              .job = (size_t)(j - s->jobs),
                              .step = st->name,
                              .kind = st->kind->name,
                              .run = r->run,
                              .cached_from = cands[c],
                              .key = r->key,
                              .summary = h.summary};
        emit(s, &ev);
        return 1;
    }
    return 0;
}

static int spawn(sched *s, job_rt *j, size_t si, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    step_rt *r = &j->st[si];
    int rc = begin_step_run(s, j, si, err);
    if (rc) return rc;
    const char *wd = s->o->workdir ? s->o->workdir : ".leap";
    snprintf(r->outdir, sizeof r->outdir, "%s/steps/%s/%s.%lld", wd, st->name, r->key,
             (long long)r->run);
    snprintf(r->log, sizeof r->log, "%s/step.log", r->outdir);
    if (mkdirs(r->outdir))
        return leap_err_set(err, LEAP_EIO, "%s: cannot create: %s", r->outdir, strerror(errno));
    leap_kv tag = {"outdir", r->outdir};
    if ((rc = leap_track_set_tags(s->o->store, r->run, &tag, 1, err))) return rc;
    strv a = {0};
    if ((rc = build_argv(s, j, si, &a, err))) {
        sv_free(&a);
        return rc;
    }
    char stdout_path[1200] = "";
    for (int o = 0; o < MAX_OUT && st->kind->out[o].name; o++)
        if (st->kind->out[o].flags & LEAP_OUT_STDOUT)
            snprintf(stdout_path, sizeof stdout_path, "%s/%s", r->outdir, st->kind->out[o].file);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        sv_free(&a);
        return leap_err_set(err, LEAP_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* The step dies with the pipeline (a killed pipeline leaves no
         * orphan writing into a folder nobody will trust). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        setenv("LEAP_TRACK", "0", 1);
        int lf = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int of =
            stdout_path[0] ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : lf;
        int nf = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (lf < 0 || of < 0 || nf < 0) _exit(127);
        dup2(nf, 0);
        dup2(of, 1);
        dup2(lf, 2);
        execv(a.v[0], a.v);
        dprintf(2, "leap run: cannot start %s: %s\n", a.v[0], strerror(errno));
        _exit(127);
    }
    sv_free(&a);
    r->pid = pid;
    r->t0 = mono_now();
    r->state = S_RUNNING;
    s->running++;
    leap_pipe_event ev = {.type = LEAP_EV_START,
                          .job = (size_t)(j - s->jobs),
                          .step = st->name,
                          .kind = st->kind->name,
                          .run = r->run,
                          .key = r->key,
                          .log = r->log};
    emit(s, &ev);
    return LEAP_OK;
}

/* ---- finishing a step ----------------------------------------------------------------- */
static void log_tail(const char *path, char *buf, size_t len) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char tail[2048];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[n] = 0;
    while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
        tail[--n] = 0;
    /* the last 3 lines, each without progress-bar carriage returns */
    int lines = 0;
    size_t start = n;
    while (start > 0 && lines < 3)
        if (tail[--start] == '\n') lines++;
    if (tail[start] == '\n') start++;
    snprintf(buf, len, "%s", tail + start);
    for (char *c = buf; *c; c++)
        if (*c == '\r') *c = ' ';
}

static void read_io(pid_t pid, uint64_t *rd, uint64_t *wr) {
    char p[64], line[128];
    snprintf(p, sizeof p, "/proc/%d/io", (int)pid);
    FILE *f = fopen(p, "r");
    *rd = *wr = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "rchar: %llu", &v) == 1) *rd = v;
        if (sscanf(line, "wchar: %llu", &v) == 1) *wr = v;
    }
    fclose(f);
}

static void mark_skipped(sched *s, job_rt *j);

static int finish(sched *s, job_rt *j, size_t si, int status, const struct rusage *ru,
                  uint64_t rchar, uint64_t wchar, leap_err *err) {
    const leap_pl_step *st = &j->pl->steps[si];
    step_rt *r = &j->st[si];
    leap_track *t = s->o->store;
    s->running--;
    leap_run_cost c = {.wall_s = mono_now() - r->t0,
                       .cpu_s = (double)ru->ru_utime.tv_sec + 1e-6 * (double)ru->ru_utime.tv_usec +
                                (double)ru->ru_stime.tv_sec + 1e-6 * (double)ru->ru_stime.tv_usec,
                       .peak_rss = (uint64_t)ru->ru_maxrss * 1024,
                       .read_bytes = rchar,
                       .write_bytes = wchar};
    c.cost = leap_cost_price(&s->o->price, &c);
    leap_run_cost *jc = &j->job->cost;
    jc->cpu_s += c.cpu_s;
    jc->read_bytes += c.read_bytes;
    jc->write_bytes += c.write_bytes;
    jc->cost += c.cost;
    if (c.peak_rss > jc->peak_rss) jc->peak_rss = c.peak_rss;
    char msg[1400] = "";
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        char tail[512];
        log_tail(r->log, tail, sizeof tail);
        if (WIFEXITED(status))
            snprintf(msg, sizeof msg, "exit status %d%s%s", WEXITSTATUS(status),
                     tail[0] ? ": " : "", tail);
        else
            snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
    }
    /* Outputs: every required one must exist; all are hashed. */
    leap_artifact arts[MAX_OUT + 2];
    size_t na = 0;
    for (int o = 0; ok && o < MAX_OUT && st->kind->out[o].name; o++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", r->outdir, st->kind->out[o].file);
        uint64_t h, sz;
        leap_err e2;
        struct stat sb;
        if (stat(p, &sb) != 0) {
            if (st->kind->out[o].flags & LEAP_OUT_OPTIONAL) continue;
            snprintf(msg, sizeof msg, "did not write its output '%s' (%s)", st->kind->out[o].name,
                     p);
            ok = 0;
            break;
        }
        if (leap_file_hash(p, &h, &sz, &e2)) {
            snprintf(msg, sizeof msg, "%s", e2.msg);
            ok = 0;
            break;
        }
        free(r->out_path[o]);
        r->out_path[o] = strdup(p);
        r->out_hash[o] = h;
        r->out_size[o] = sz;
        arts[na++] = (leap_artifact){r->out_path[o], st->kind->out[o].name, sz, h, LEAP_ART_OUT};
    }
    harvest h = {0};
    uint64_t lh = 0, ls = 0, ph = 0, ps = 0;
    leap_err e3;
    if (leap_file_hash(r->log, &lh, &ls, &e3) == 0)
        arts[na++] = (leap_artifact){r->log, "log", ls, lh, LEAP_ART_OUT};
    if (ok) {
        harvest_outputs(st, r, &h);
        if (h.pushed[0] && leap_file_hash(h.pushed, &ph, &ps, &e3) == 0)
            arts[na++] = (leap_artifact){h.pushed, "pushed", ps, ph, LEAP_ART_OUT};
    }
    int rc = leap_track_batch_begin(t, err);
    if (!rc) rc = leap_track_log_artifacts(t, r->run, arts, na, err);
    if (!rc && ok) rc = leap_track_log_metrics(t, r->run, h.m, h.n, err);
    if (!rc && ok && h.n_tags) rc = leap_track_set_tags(t, r->run, h.tags, h.n_tags, err);
    if (!rc && ok) rc = copy_to_pipeline(j, t, st->name, &h, err);
    if (!rc && !ok) {
        leap_kv tag = {"error", msg};
        rc = leap_track_set_tags(t, r->run, &tag, 1, err);
    }
    if (!rc) rc = leap_track_run_end(t, r->run, ok ? LEAP_RUN_FINISHED : LEAP_RUN_FAILED, &c, err);
    leap_err e2;
    if (rc)
        leap_track_batch_commit(t, &e2);
    else
        rc = leap_track_batch_commit(t, err);
    if (rc) return rc;
    r->state = ok ? S_DONE : S_FAILED;
    if (ok)
        j->job->n_ran++;
    else
        j->job->n_failed++;
    leap_pipe_event ev = {.type = ok ? LEAP_EV_DONE : LEAP_EV_FAILED,
                          .job = (size_t)(j - s->jobs),
                          .step = st->name,
                          .kind = st->kind->name,
                          .run = r->run,
                          .key = r->key,
                          .cost = &c,
                          .summary = h.summary,
                          .log = r->log,
                          .message = msg};
    emit(s, &ev);
    if (!ok) mark_skipped(s, j);
    return LEAP_OK;
}

static void mark_skipped(sched *s, job_rt *j) {
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t k = 0; k < j->pl->n_steps; k++) {
            size_t si = j->pl->order[k];
            if (j->st[si].state != S_WAIT) continue;
            const leap_pl_step *st = &j->pl->steps[si];
            for (size_t d = 0; d < st->n_deps; d++) {
                int ds = j->st[st->deps[d]].state;
                if (ds == S_FAILED || ds == S_SKIPPED) {
                    j->st[si].state = S_SKIPPED;
                    j->job->n_skipped++;
                    leap_pipe_event ev = {.type = LEAP_EV_SKIPPED,
                                          .job = (size_t)(j - s->jobs),
                                          .step = st->name,
                                          .kind = st->kind->name};
                    emit(s, &ev);
                    changed = 1;
                    break;
                }
            }
        }
    }
}

/* A step with this key is running in some job (do not start it twice). */
static int key_running(sched *s, const char *key) {
    for (size_t jj = 0; jj < s->n_jobs; jj++)
        for (size_t k = 0; k < s->jobs[jj].pl->n_steps; k++)
            if (s->jobs[jj].st[k].state == S_RUNNING && !strcmp(s->jobs[jj].st[k].key, key))
                return 1;
    return 0;
}

/* Starts what can start. Returns 1 when anything changed state. */
static int advance(sched *s, leap_err *err, int *rc) {
    int changed = 0;
    for (size_t jj = 0; jj < s->n_jobs; jj++) {
        job_rt *j = &s->jobs[jj];
        for (size_t k = 0; k < j->pl->n_steps; k++) {
            size_t si = j->pl->order[k];
            step_rt *r = &j->st[si];
            if (r->state != S_WAIT) continue;
            const leap_pl_step *st = &j->pl->steps[si];
            int ready = 1;
            for (size_t d = 0; d < st->n_deps && ready; d++)
                ready = j->st[st->deps[d]].state == S_DONE;
            if (!ready) continue;
            if (!r->key[0]) {
                leap_err ke = {0};
                if (step_key(s, j, si, r->key, &ke)) {
                    /* an input is missing: the step fails before it starts */
                    r->state = S_FAILED;
                    j->job->n_failed++;
                    leap_pipe_event ev = {.type = LEAP_EV_FAILED,
                                          .job = jj,
                                          .step = st->name,
                                          .kind = st->kind->name,
                                          .message = ke.msg};
                    emit(s, &ev);
                    mark_skipped(s, j);
                    changed = 1;
                    continue;
                }
            }
            if (key_running(s, r->key)) continue;
            if (!r->forced) {
                int c = try_cache(s, j, si, err);
                if (c < 0) {
                    *rc = err->status ? err->status : LEAP_EIO;
                    return 0;
                }
                if (c) {
                    changed = 1;
                    continue;
                }
            }
            if (s->running >= (s->o->jobs > 0 ? s->o->jobs : 1)) continue;
            if ((*rc = spawn(s, j, si, err))) return 0;
            changed = 1;
        }
    }
    return changed;
}

static void flatten_params(leap_track *t, int64_t run, const leap_pipeline *pl) {
    leap_err e;
    for (size_t s = 0; s < pl->n_steps; s++) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s.", pl->steps[s].name);
        /* a MAP option's entries get the step prefix too */
        log_step_params(t, run, &pl->steps[s], prefix, &e);
    }
}

int leap_pipe_run(leap_pipe_job *jobs, size_t n_jobs, const leap_pipe_opts *o, leap_err *err) {
    if (!o->store || !o->exe) return leap_err_set(err, LEAP_EINVAL, "pipeline: store and exe");
    leap_track *t = o->store;
    int rc = leap_track_reap(t, NULL, err);
    if (rc) return rc;
    sched s = {.o = o, .n_jobs = n_jobs, .err = err};
    s.jobs = calloc(n_jobs ? n_jobs : 1, sizeof *s.jobs);
    if (!s.jobs) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    for (size_t jj = 0; jj < n_jobs && !rc; jj++) {
        job_rt *j = &s.jobs[jj];
        leap_pipe_job *job = &jobs[jj];
        j->job = job;
        j->pl = job->pl;
        j->t0 = mono_now();
        job->n_ran = job->n_cached = job->n_failed = job->n_skipped = 0;
        memset(&job->cost, 0, sizeof job->cost);
        j->st = calloc(j->pl->n_steps ? j->pl->n_steps : 1, sizeof *j->st);
        if (!j->st) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            break;
        }
        for (size_t f = 0; f < o->n_force; f++) {
            int fi = leap_pipeline_find(j->pl, o->force[f]);
            if (fi < 0) {
                rc = leap_err_set(err, LEAP_EINVAL, "--force: no step '%s' in %s", o->force[f],
                                  j->pl->file);
                break;
            }
            j->st[fi].forced = 1;
        }
        /* everything downstream of a forced step is forced too */
        for (size_t k = 0; k < j->pl->n_steps; k++) {
            size_t si = j->pl->order[k];
            for (size_t d = 0; d < j->pl->steps[si].n_deps; d++)
                j->st[si].forced |= j->st[j->pl->steps[si].deps[d]].forced;
        }
        if (!rc && !job->run) {
            leap_run_start rs = {.experiment = o->experiment ? o->experiment : j->pl->experiment,
                                 .name = job->run_name ? job->run_name : j->pl->name,
                                 .kind = "pipeline",
                                 .parent = job->parent};
            rc = leap_track_run_begin(t, &rs, &job->run, err);
            if (!rc) {
                j->created_run = 1;
                leap_kv tag = {"file", j->pl->file};
                leap_track_set_tags(t, job->run, &tag, 1, err);
                flatten_params(t, job->run, j->pl);
            }
        }
    }
    while (!rc) {
        int changed = advance(&s, err, &rc);
        if (rc) break;
        if (s.running == 0) {
            if (!changed) break;
            continue;
        }
        if (changed) continue;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            rc = leap_err_set(err, LEAP_EIO, "wait: %s", strerror(errno));
            break;
        }
        uint64_t rchar, wchar;
        read_io(si.si_pid, &rchar, &wchar);
        int status;
        struct rusage ru;
        if (wait4(si.si_pid, &status, 0, &ru) < 0) continue;
        for (size_t jj = 0; jj < n_jobs; jj++)
            for (size_t k = 0; k < s.jobs[jj].pl->n_steps; k++)
                if (s.jobs[jj].st[k].state == S_RUNNING && s.jobs[jj].st[k].pid == si.si_pid && !rc)
                    rc = finish(&s, &s.jobs[jj], k, status, &ru, rchar, wchar, err);
    }
    /* On an internal error, stop the steps still running. */
    for (size_t jj = 0; jj < n_jobs; jj++)
        for (size_t k = 0; s.jobs[jj].st && k < s.jobs[jj].pl->n_steps; k++)
            if (s.jobs[jj].st[k].state == S_RUNNING) {
                kill(s.jobs[jj].st[k].pid, SIGKILL);
                waitpid(s.jobs[jj].st[k].pid, NULL, 0);
                leap_err e2;
                leap_track_run_end(t, s.jobs[jj].st[k].run, LEAP_RUN_FAILED, NULL, &e2);
            }
    for (size_t jj = 0; jj < n_jobs; jj++) {
        job_rt *j = &s.jobs[jj];
        leap_pipe_job *job = j->job;
        if (!job) continue;
        int all_done = j->st != NULL;
        for (size_t k = 0; j->st && k < j->pl->n_steps; k++)
            all_done &= j->st[k].state == S_DONE;
        job->status = all_done && !rc ? LEAP_RUN_FINISHED : LEAP_RUN_FAILED;
        job->cost.wall_s = mono_now() - j->t0;
        if (j->created_run) {
            leap_err e2;
            leap_track_run_end(t, job->run, job->status, &job->cost, &e2);
        }
        for (size_t k = 0; j->st && k < j->pl->n_steps; k++)
            for (int q = 0; q < MAX_OUT; q++)
                free(j->st[k].out_path[q]);
        free(j->st);
    }
    free(s.jobs);
    return rc;
}
