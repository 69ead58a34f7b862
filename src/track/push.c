/* push.c — the blessing gate and the model repository (see leap/push.h):
 * parses checks, gets the candidate's and the baseline's metrics, decides,
 * and copies a blessed model into REPO/NAME/VERSION/ through a temporary
 * folder and one rename (retrying with the next version when another push
 * took it). */
#define _GNU_SOURCE
#include "leap/push.h"
#include "leap/dataset.h"
#include "leap/score.h"
#include "leap/track.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const metric_names[] = {"auc",         "logloss", "ne",
                                           "calibration", "pr_auc",  "base_rate"};
enum { N_METRICS = sizeof metric_names / sizeof metric_names[0] };

static double metric_of(const leap_metrics *m, const char *name) {
    if (!strcmp(name, "auc")) return m->auc;
    if (!strcmp(name, "logloss")) return m->logloss;
    if (!strcmp(name, "ne")) return m->ne;
    if (!strcmp(name, "calibration")) return m->calibration;
    if (!strcmp(name, "pr_auc")) return m->pr_auc;
    if (!strcmp(name, "base_rate")) return m->base_rate;
    return NAN;
}

const char *leap_push_decision_name(leap_push_decision d) {
    return d == LEAP_PUSH_PUSHED ? "pushed" : d == LEAP_PUSH_CURRENT ? "current" : "refused";
}

/* ---- checks ------------------------------------------------------------------ */
static int chk_fail(const char *text, const char *at, const char *what, leap_err *err) {
    return leap_err_set(err, LEAP_EPARSE, "check '%s', column %d: %s", text, (int)(at - text) + 1,
                        what);
}

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int num(const char **p, double *v) {
    char *end;
    errno = 0;
    *v = strtod(*p, &end);
    if (end == *p || errno == ERANGE || !isfinite(*v)) return -1;
    *p = end;
    return 0;
}

int leap_bless_parse(const char *text, leap_bless_check *c, leap_err *err) {
    memset(c, 0, sizeof *c);
    snprintf(c->text, sizeof c->text, "%s", text);
    const char *p = ws(text), *m0 = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t ml = (size_t)(p - m0);
    int known = 0;
    for (int i = 0; i < N_METRICS; i++)
        known |= strlen(metric_names[i]) == ml && !strncmp(m0, metric_names[i], ml);
    if (!known)
        return chk_fail(
            text, m0, "expected a metric (auc, logloss, ne, calibration, pr_auc, base_rate)", err);
    snprintf(c->metric, sizeof c->metric, "%.*s", (int)ml, m0);
    p = ws(p);
    if (!strncmp(p, "within", 6)) {
        c->op = LEAP_CHK_WITHIN;
        p = ws(p + 6);
        if (*p != '[') return chk_fail(text, p, "expected '[' after within", err);
        p = ws(p + 1);
        if (num(&p, &c->lo)) return chk_fail(text, p, "expected a number", err);
        p = ws(p);
        if (*p != ',') return chk_fail(text, p, "expected ','", err);
        p = ws(p + 1);
        if (num(&p, &c->hi)) return chk_fail(text, p, "expected a number", err);
        p = ws(p);
        if (*p != ']') return chk_fail(text, p, "expected ']'", err);
        p = ws(p + 1);
        if (c->lo > c->hi) return chk_fail(text, text, "the interval is empty", err);
    } else {
        if (!strncmp(p, ">=", 2))
            c->op = LEAP_CHK_GE, p += 2;
        else if (!strncmp(p, "<=", 2))
            c->op = LEAP_CHK_LE, p += 2;
        else if (*p == '>')
            c->op = LEAP_CHK_GT, p++;
        else if (*p == '<')
            c->op = LEAP_CHK_LT, p++;
        else
            return chk_fail(text, p, "expected >=, <=, >, < or within", err);
        p = ws(p);
        if (!strncmp(p, "baseline", 8)) {
            c->relative = 1;
            p = ws(p + 8);
            if (*p == '+' || *p == '-') {
                int neg = *p == '-';
                p = ws(p + 1);
                if (num(&p, &c->value) || c->value < 0)
                    return chk_fail(text, p, "expected a non-negative number", err);
                if (neg) c->value = -c->value;
                p = ws(p);
            }
        } else if (num(&p, &c->value)) {
            return chk_fail(text, p, "expected a number or baseline [+|- number]", err);
        }
        p = ws(p);
    }
    if (*p) return chk_fail(text, p, "unexpected text", err);
    return LEAP_OK;
}

/* ---- metrics ------------------------------------------------------------------ */
static int metrics_from_json(const char *path, leap_metrics *m, leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    leap_buf b = {0};
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (b.len > (64u << 20) || leap_buf_append(&b, chunk, got)) break;
    fclose(f);
    cJSON *j = b.p ? cJSON_ParseWithLength((const char *)b.p, b.len) : NULL;
    leap_buf_free(&b);
    cJSON *o = j ? cJSON_GetObjectItemCaseSensitive(j, "metrics") : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(j);
        return leap_err_set(err, LEAP_EPARSE,
                            "%s: expected the JSON of `leap eval --json` (an object with "
                            "\"metrics\")",
                            path);
    }
    memset(m, 0, sizeof *m);
    double *dst[] = {&m->auc, &m->logloss, &m->ne, &m->calibration, &m->pr_auc, &m->base_rate};
    for (int i = 0; i < N_METRICS; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, metric_names[i]);
        *dst[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n");
    m->n = cJSON_IsNumber(n) ? n->valuedouble : 0;
    cJSON_Delete(j);
    return LEAP_OK;
}

static int metrics_on_data(const char *model, const char *data, int threads, leap_metrics *m,
                           leap_err *err) {
    leap_bundle b;
    memset(&b, 0, sizeof b);
    leap_dataset *ds = NULL;
    float *p = NULL, *y = NULL, *w = NULL;
    int rc = leap_bundle_load(model, &b, err);
    if (!rc) rc = leap_dataset_open(data, &ds, err);
    if (!rc) {
        size_t n = (size_t)leap_dataset_num_rows(ds);
        p = malloc((n ? n : 1) * sizeof *p);
        y = malloc((n ? n : 1) * sizeof *y);
        w = malloc((n ? n : 1) * sizeof *w);
        if (!p || !y || !w) rc = leap_err_set(err, LEAP_ENOMEM, "out of memory for %zu rows", n);
        if (!rc)
            rc = leap_score_dataset(&b, ds, threads > 0 ? threads : leap_num_cpus(), p, y, w, -1,
                                    NULL, err);
        if (!rc) rc = leap_metrics_compute(p, y, w, n, m, err);
    }
    free(p);
    free(y);
    free(w);
    if (ds) leap_dataset_close(ds);
    leap_bundle_free(&b);
    return rc;
}

/* ---- repository ----------------------------------------------------------------- */
int64_t leap_repo_latest(const char *repo, const char *name) {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/%s", repo, name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int64_t best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t v;
        if (e->d_name[0] == '.' || leap_parse_i64(e->d_name, &v) || v <= 0) continue;
        char p[2400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s/model.leap", dir, e->d_name);
        if (stat(p, &st) == 0 && v > best) best = v;
    }
    closedir(d);
    return best;
}

static int copy_file(const char *from, const char *to, leap_err *err) {
    FILE *in = fopen(from, "rb");
    if (!in) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", from, strerror(errno));
    leap_afile af;
    int rc = leap_afile_open(&af, to, err);
    if (rc) {
        fclose(in);
        return rc;
    }
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, af.fp) != got) break;
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        leap_afile_abort(&af);
        return leap_err_set(err, LEAP_EIO, "%s: read error", from);
    }
    return leap_afile_commit(&af, err);
}

static int write_metrics(const char *path, const leap_metrics *m, leap_err *err) {
    leap_afile af;
    int rc = leap_afile_open(&af, path, err);
    if (rc) return rc;
    fputs("{\"metrics\": ", af.fp);
    leap_metrics_write_json(af.fp, m);
    fputs("}\n", af.fp);
    return leap_afile_commit(&af, err);
}

static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int valid_name(const char *s) {
    if (!s || !s[0] || strlen(s) > 128 || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.')) return 0;
    return 1;
}

int leap_push(const leap_push_opts *o, leap_push_result *r, leap_err *err) {
    memset(r, 0, sizeof *r);
    if (!o->model) return leap_err_set(err, LEAP_EINVAL, "push: no model");
    if (!valid_name(o->name))
        return leap_err_set(err, LEAP_EINVAL,
                            "push: model name '%s' must be letters, digits, '_', '-', '.'",
                            o->name ? o->name : "");
    if (!o->metrics && !o->data)
        return leap_err_set(err, LEAP_EINVAL,
                            "push: give the candidate's eval metrics or a "
                            "dataset to evaluate it on");
    if (o->n_checks > LEAP_PUSH_MAX_CHECKS)
        return leap_err_set(err, LEAP_EINVAL, "push: at most %d checks", LEAP_PUSH_MAX_CHECKS);
    const char *repo = o->repo && o->repo[0] ? o->repo : "models";
    int rc = o->metrics ? metrics_from_json(o->metrics, &r->cand, err)
                        : metrics_on_data(o->model, o->data, o->threads, &r->cand, err);
    if (rc) return rc;
    r->baseline_version = leap_repo_latest(repo, o->name);
    char base_dir[2400], base_model[2600], p[2600];
    if (r->baseline_version) {
        snprintf(base_dir, sizeof base_dir, "%s/%s/%lld", repo, o->name,
                 (long long)r->baseline_version);
        snprintf(base_model, sizeof base_model, "%s/model.leap", base_dir);
        uint64_t hc, hb, sc, sb;
        if (leap_file_hash(o->model, &hc, &sc, err)) return err->status;
        if (leap_file_hash(base_model, &hb, &sb, err) == 0 && hb == hc && sb == sc) {
            r->decision = LEAP_PUSH_CURRENT;
            r->version = r->baseline_version;
            snprintf(r->path, sizeof r->path, "%s", base_model);
            r->base = r->cand;
            r->have_base = 1;
            for (size_t i = 0; i < o->n_checks; i++)
                r->res[i].pass = 1, r->res[i].value = metric_of(&r->cand, o->checks[i].metric);
            return LEAP_OK;
        }
        snprintf(p, sizeof p, "%s/metrics.json", base_dir);
        leap_err e2 = {0};
        if (o->data)
            r->have_base =
                metrics_on_data(base_model, o->data, o->threads, &r->base, &e2) == LEAP_OK;
        else
            r->have_base = metrics_from_json(p, &r->base, &e2) == LEAP_OK;
    }
    /* The gate. */
    size_t o_len = 0;
    int all = 1;
    for (size_t i = 0; i < o->n_checks; i++) {
        const leap_bless_check *c = &o->checks[i];
        double v = metric_of(&r->cand, c->metric), lo = -INFINITY, hi = INFINITY;
        r->res[i].value = v;
        if (c->op == LEAP_CHK_WITHIN) {
            lo = c->lo, hi = c->hi;
        } else {
            double thr = c->value;
            if (c->relative) {
                if (!r->have_base) {
                    r->res[i].pass = 1;
                    r->res[i].no_baseline = 1;
                    r->res[i].lo = NAN;
                    r->res[i].hi = NAN;
                    continue;
                }
                thr = metric_of(&r->base, c->metric) + c->value;
            }
            if (c->op == LEAP_CHK_GE || c->op == LEAP_CHK_GT)
                lo = thr;
            else
                hi = thr;
        }
        int pass = !isnan(v);
        if (pass) {
            switch (c->op) {
            case LEAP_CHK_GE: pass = v >= lo; break;
            case LEAP_CHK_GT: pass = v > lo; break;
            case LEAP_CHK_LE: pass = v <= hi; break;
            case LEAP_CHK_LT: pass = v < hi; break;
            case LEAP_CHK_WITHIN: pass = v >= lo && v <= hi; break;
            }
        }
        r->res[i].pass = pass;
        r->res[i].lo = lo;
        r->res[i].hi = hi;
        if (!pass) {
            all = 0;
            double bound = c->op == LEAP_CHK_GE || c->op == LEAP_CHK_GT ? lo : hi;
            int w;
            if (c->op == LEAP_CHK_WITHIN)
                w = snprintf(r->reason + o_len, sizeof r->reason - o_len,
                             "%s%s %.6g outside [%.6g, %.6g]", o_len ? "; " : "", c->metric, v, lo,
                             hi);
            else
                w = snprintf(r->reason + o_len, sizeof r->reason - o_len,
                             "%s%s %.6g fails %s (threshold %.6g)", o_len ? "; " : "", c->metric, v,
                             c->text, bound);
            if (w > 0 && (size_t)w < sizeof r->reason - o_len) o_len += (size_t)w;
        }
    }
    if (!all) {
        r->decision = LEAP_PUSH_REFUSED;
        return LEAP_OK;
    }
    /* Blessed: REPO/NAME/.tmp-PID/ -> REPO/NAME/VERSION/ */
    char name_dir[2300], tmp[2400];
    snprintf(name_dir, sizeof name_dir, "%s/%s", repo, o->name);
    if ((mkdir(repo, 0755) && errno != EEXIST) || (mkdir(name_dir, 0755) && errno != EEXIST))
        return leap_err_set(err, LEAP_EIO, "%s: cannot create: %s", name_dir, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld", name_dir, (long)getpid());
    rm_tree(tmp);
    if (mkdir(tmp, 0755))
        return leap_err_set(err, LEAP_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    snprintf(p, sizeof p, "%s/model.leap", tmp);
    if ((rc = copy_file(o->model, p, err))) {
        rm_tree(tmp);
        return rc;
    }
    snprintf(p, sizeof p, "%s/metrics.json", tmp);
    if ((rc = write_metrics(p, &r->cand, err))) {
        rm_tree(tmp);
        return rc;
    }
    for (int64_t v = r->baseline_version + 1;; v++) {
        char final[2400];
        snprintf(final, sizeof final, "%s/%lld", name_dir, (long long)v);
        if (rename(tmp, final) == 0) {
            r->decision = LEAP_PUSH_PUSHED;
            r->version = v;
            snprintf(r->path, sizeof r->path, "%s/model.leap", final);
            return LEAP_OK;
        }
        if ((errno != EEXIST && errno != ENOTEMPTY) || v > r->baseline_version + 1000) {
            int e = errno;
            rm_tree(tmp);
            return leap_err_set(err, LEAP_EIO, "%s: cannot rename to %s: %s", tmp, final,
                                strerror(e));
        }
    }
}

static void jnum(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void jmetrics(FILE *f, const leap_metrics *m) {
    fputc('{', f);
    for (int i = 0; i < N_METRICS; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", metric_names[i]);
        jnum(f, metric_of(m, metric_names[i]));
    }
    fputc('}', f);
}

void leap_push_write_json(FILE *f, const leap_push_opts *o, const leap_push_result *r) {
    fputs("{\"decision\": ", f);
    jstr(f, leap_push_decision_name(r->decision));
    fputs(", \"name\": ", f);
    jstr(f, o->name);
    fprintf(f, ", \"version\": %lld, \"baseline_version\": %lld", (long long)r->version,
            (long long)r->baseline_version);
    if (r->path[0]) {
        fputs(", \"path\": ", f);
        jstr(f, r->path);
    }
    fputs(", \"reason\": ", f);
    jstr(f, r->reason);
    fputs(", \"candidate\": ", f);
    jmetrics(f, &r->cand);
    fputs(", \"baseline\": ", f);
    if (r->have_base)
        jmetrics(f, &r->base);
    else
        fputs("null", f);
    fputs(", \"checks\": [", f);
    for (size_t i = 0; i < o->n_checks; i++) {
        fputs(i ? ", {\"check\": " : "{\"check\": ", f);
        jstr(f, o->checks[i].text);
        fputs(", \"value\": ", f);
        jnum(f, r->res[i].value);
        fputs(", \"min\": ", f);
        jnum(f, r->res[i].lo);
        fputs(", \"max\": ", f);
        jnum(f, r->res[i].hi);
        fprintf(f, ", \"pass\": %s%s}", r->res[i].pass ? "true" : "false",
                r->res[i].no_baseline ? ", \"no_baseline\": true" : "");
    }
    fputs("]}\n", f);
}
