/* bundle.c — model bundle save/load with header, checksum and atomic write.
 * Knows no model family: the payload is produced and parsed by the model's ops. */
#include "leap/bundle.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int leap_bundle_meta_set(leap_bundle *b, const char *key, const char *val) {
    for (size_t i = 0; i < b->n_meta; i++)
        if (!strcmp(b->keys[i], key)) {
            char *v = strdup(val);
            if (!v) return LEAP_ENOMEM;
            free(b->vals[i]);
            b->vals[i] = v;
            return LEAP_OK;
        }
    char **k = realloc(b->keys, (b->n_meta + 1) * sizeof *k);
    if (!k) return LEAP_ENOMEM;
    b->keys = k;
    char **v = realloc(b->vals, (b->n_meta + 1) * sizeof *v);
    if (!v) return LEAP_ENOMEM;
    b->vals = v;
    b->keys[b->n_meta] = strdup(key);
    b->vals[b->n_meta] = strdup(val);
    if (!b->keys[b->n_meta] || !b->vals[b->n_meta]) {
        free(b->keys[b->n_meta]);
        free(b->vals[b->n_meta]);
        return LEAP_ENOMEM;
    }
    /* values are one line */
    for (char *p = b->vals[b->n_meta]; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    b->n_meta++;
    return LEAP_OK;
}

const char *leap_bundle_meta_get(const leap_bundle *b, const char *key) {
    for (size_t i = 0; i < b->n_meta; i++)
        if (!strcmp(b->keys[i], key)) return b->vals[i];
    return NULL;
}

void leap_bundle_free(leap_bundle *b) {
    for (size_t i = 0; i < b->n_meta; i++) {
        free(b->keys[i]);
        free(b->vals[i]);
    }
    free(b->keys);
    free(b->vals);
    leap_featurizer_free(&b->fz);
    if (b->model) b->model->ops->destroy(b->model);
    free(b->opts);
    memset(b, 0, sizeof *b);
}

/* Serialises metadata as "key=value\n" lines, with the fixed keys first. */
static int meta_text(const leap_bundle *b, char **out, size_t *len) {
    FILE *f = open_memstream(out, len);
    if (!f) return LEAP_ENOMEM;
    fprintf(f, "model=%s\nleap_version=%s\nneg_sample_rate=%.17g\ncalibration.logit_shift=%.17g\n",
            b->ops->name, LEAP_VERSION, b->neg_rate, b->logit_shift);
    leap_opts_write(f, b->ops->opts, b->opts, "opt.");
    for (size_t i = 0; i < b->n_meta; i++) {
        const char *k = b->keys[i];
        if (!strcmp(k, "model") || !strcmp(k, "leap_version") || !strcmp(k, "neg_sample_rate") ||
            !strcmp(k, "calibration.logit_shift") || !strncmp(k, "opt.", 4))
            continue;
        fprintf(f, "%s=%s\n", k, b->vals[i]);
    }
    return fclose(f) == 0 ? LEAP_OK : LEAP_ENOMEM;
}

int leap_bundle_save(const char *path, const leap_bundle *b, leap_err *err) {
    char *meta = NULL, *fzt = NULL;
    size_t meta_len = 0, fz_len = 0;
    leap_buf payload = {0};
    void *z = NULL;
    int rc = LEAP_OK;
    if (meta_text(b, &meta, &meta_len)) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    FILE *ff = open_memstream(&fzt, &fz_len);
    if (!ff || leap_featurizer_write(&b->fz, ff) || fclose(ff)) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((rc = b->model->ops->save(b->model, &payload, err))) goto done;
    size_t zcap = ZSTD_compressBound(payload.len);
    z = malloc(zcap ? zcap : 1);
    if (!z) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t zlen = ZSTD_compress(z, zcap, payload.p, payload.len, 3);
    if (ZSTD_isError(zlen)) {
        rc = leap_err_set(err, LEAP_EIO, "%s: compression failed: %s", path,
                          ZSTD_getErrorName(zlen));
        goto done;
    }
    uint8_t hdr[LEAP_BUNDLE_HEADER];
    memcpy(hdr, LEAP_BUNDLE_MAGIC, 8);
    leap_put_u32(hdr + 8, LEAP_BUNDLE_VERSION);
    leap_put_u32(hdr + 12, 0);
    leap_put_u64(hdr + 16, meta_len);
    leap_put_u64(hdr + 24, fz_len);
    leap_put_u64(hdr + 32, payload.len);
    leap_put_u64(hdr + 40, zlen);
    uint64_t sum = leap_hash64(hdr, sizeof hdr, 0);
    sum = leap_mix64(sum, leap_hash64(meta, meta_len, 0));
    sum = leap_mix64(sum, leap_hash64(fzt, fz_len, 0));
    sum = leap_mix64(sum, leap_hash64(z, zlen, 0));
    uint8_t tail[8];
    leap_put_u64(tail, sum);
    leap_afile af;
    if ((rc = leap_afile_open(&af, path, err))) goto done;
    fwrite(hdr, 1, sizeof hdr, af.fp);
    fwrite(meta, 1, meta_len, af.fp);
    fwrite(fzt, 1, fz_len, af.fp);
    fwrite(z, 1, zlen, af.fp);
    fwrite(tail, 1, sizeof tail, af.fp);
    rc = leap_afile_commit(&af, err);
done:
    free(meta);
    free(fzt);
    free(z);
    leap_buf_free(&payload);
    return rc;
}

static int parse_meta(leap_bundle *b, const char *path, const char *text, size_t len,
                      leap_err *err) {
    const char *p = text, *end = text + len;
    int line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (le > p) {
            if (!eq || eq == p)
                return leap_err_set(err, LEAP_ECORRUPT, "%s: metadata line %d has no key=value",
                                    path, line);
            char *k = strndup(p, (size_t)(eq - p)), *v = strndup(eq + 1, (size_t)(le - eq - 1));
            int rc = (!k || !v) ? LEAP_ENOMEM : leap_bundle_meta_set(b, k, v);
            free(k);
            free(v);
            if (rc) return leap_err_set(err, rc, "%s: out of memory", path);
        }
        p = nl ? nl + 1 : end;
    }
    return LEAP_OK;
}

int leap_bundle_load(const char *path, leap_bundle *b, leap_err *err) {
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t size = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long s = ftell(f);
        if (s >= 0) size = (size_t)s;
        rewind(f);
    }
    buf = malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, f) != size) {
        fclose(f);
        free(buf);
        return leap_err_set(err, LEAP_EIO, "%s: read failed", path);
    }
    fclose(f);
    int rc = leap_bundle_parse(buf, size, path, b, err);
    free(buf);
    return rc;
}

int leap_bundle_parse(const uint8_t *buf, size_t size, const char *path, leap_bundle *b,
                      leap_err *err) {
    memset(b, 0, sizeof *b);
    b->neg_rate = 1.0;
    uint8_t *raw = NULL;
    int rc = LEAP_OK;
    if (size < 8 || memcmp(buf, LEAP_BUNDLE_MAGIC, 8) != 0) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: not a leap model bundle (bad magic)", path);
        goto fail;
    }
    if (size < LEAP_BUNDLE_HEADER + 8) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: truncated bundle (%zu bytes)", path, size);
        goto fail;
    }
    uint32_t version = leap_get_u32(buf + 8);
    if (version > LEAP_BUNDLE_VERSION) {
        rc = leap_err_set(err, LEAP_EVERSION,
                          "%s: bundle format version %u is newer than this leap supports (%d)",
                          path, version, LEAP_BUNDLE_VERSION);
        goto fail;
    }
    if (version == 0) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: bundle format version 0 is invalid", path);
        goto fail;
    }
    uint64_t meta_len = leap_get_u64(buf + 16), fz_len = leap_get_u64(buf + 24);
    uint64_t raw_len = leap_get_u64(buf + 32), zlen = leap_get_u64(buf + 40);
    uint64_t body = (uint64_t)size - LEAP_BUNDLE_HEADER - 8;
    if (meta_len > body || fz_len > body || zlen > body || meta_len + fz_len + zlen != body) {
        rc = leap_err_set(
            err, LEAP_ECORRUPT,
            "%s: truncated or damaged bundle: header announces %llu bytes, file holds %llu", path,
            (unsigned long long)(meta_len + fz_len + zlen + LEAP_BUNDLE_HEADER + 8),
            (unsigned long long)size);
        goto fail;
    }
    const uint8_t *meta = buf + LEAP_BUNDLE_HEADER, *fzt = meta + meta_len, *z = fzt + fz_len;
    uint64_t sum = leap_hash64(buf, LEAP_BUNDLE_HEADER, 0);
    sum = leap_mix64(sum, leap_hash64(meta, meta_len, 0));
    sum = leap_mix64(sum, leap_hash64(fzt, fz_len, 0));
    sum = leap_mix64(sum, leap_hash64(z, zlen, 0));
    if (sum != leap_get_u64(z + zlen)) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: checksum mismatch: the bundle is corrupt", path);
        goto fail;
    }
    if ((rc = parse_meta(b, path, (const char *)meta, meta_len, err))) goto fail;
    const char *mname = leap_bundle_meta_get(b, "model");
    b->ops = mname ? leap_model_find(mname) : NULL;
    if (!b->ops) {
        rc = leap_err_set(err, LEAP_EUNSUPPORTED, "%s: unknown model family '%s'", path,
                          mname ? mname : "(none)");
        goto fail;
    }
    const char *nr = leap_bundle_meta_get(b, "neg_sample_rate");
    if (nr && (leap_parse_double(nr, &b->neg_rate) || !(b->neg_rate > 0 && b->neg_rate <= 1))) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: bad neg_sample_rate '%s'", path, nr);
        goto fail;
    }
    const char *ls = leap_bundle_meta_get(b, "calibration.logit_shift");
    if (ls && (leap_parse_double(ls, &b->logit_shift) || !(fabs(b->logit_shift) <= 50))) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: bad calibration.logit_shift '%s'", path, ls);
        goto fail;
    }
    b->opts = calloc(1, b->ops->opts_size);
    if (!b->opts) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    leap_opts_defaults(b->ops->opts, b->opts);
    for (size_t i = 0; i < b->n_meta; i++)
        if (!strncmp(b->keys[i], "opt.", 4) &&
            (rc = leap_opts_set(b->ops->opts, b->opts, b->keys[i] + 4, b->vals[i], err))) {
            char m[512];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            rc = leap_err_set(err, LEAP_ECORRUPT, "%s: %s", path, m);
            goto fail;
        }
    if ((rc = leap_featurizer_parse(&b->fz, (const char *)fzt, fz_len, err))) {
        char m[512];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: %s", path, m);
        goto fail;
    }
    if (raw_len > ((uint64_t)1 << 36)) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: payload size %llu is implausible", path,
                          (unsigned long long)raw_len);
        goto fail;
    }
    raw = malloc(raw_len ? raw_len : 1);
    if (!raw) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    size_t got = ZSTD_decompress(raw, raw_len, z, zlen);
    if (ZSTD_isError(got) || got != raw_len) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: parameter payload does not decompress", path);
        goto fail;
    }
    if ((rc = b->ops->load(b->opts, &b->fz, raw, raw_len, &b->model, err))) {
        char m[512];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        rc = leap_err_set(err, rc, "%s: %s", path, m);
        goto fail;
    }
    free(raw);
    return LEAP_OK;
fail:
    free(raw);
    leap_bundle_free(b);
    return rc;
}

float leap_shift_logit(float q, double shift) {
    double x = q < 1e-12f ? 1e-12 : (q > 1 - 1e-7f ? 1 - 1e-7 : q);
    double s = log(x / (1 - x)) + shift;
    return (float)(1 / (1 + exp(-s)));
}

void leap_bundle_predict(const leap_bundle *b, const leap_fbatch *fb, float *p) {
    b->model->ops->predict_batch(b->model, fb, p);
    if (b->logit_shift != 0)
        for (size_t i = 0; i < fb->n_rows; i++)
            p[i] = leap_shift_logit(p[i], b->logit_shift);
    if (b->neg_rate < 1.0)
        for (size_t i = 0; i < fb->n_rows; i++)
            p[i] = leap_calibrate_neg_rate(p[i], b->neg_rate);
}

int leap__bundle_fix_checksum(uint8_t *buf, size_t size) {
    if (size < LEAP_BUNDLE_HEADER + 8) return -1;
    uint64_t meta_len = leap_get_u64(buf + 16), fz_len = leap_get_u64(buf + 24),
             zlen = leap_get_u64(buf + 40);
    uint64_t body = (uint64_t)size - LEAP_BUNDLE_HEADER - 8;
    if (meta_len > body || fz_len > body || zlen > body || meta_len + fz_len + zlen != body)
        return -1;
    const uint8_t *meta = buf + LEAP_BUNDLE_HEADER, *fzt = meta + meta_len, *z = fzt + fz_len;
    uint64_t sum = leap_hash64(buf, LEAP_BUNDLE_HEADER, 0);
    sum = leap_mix64(sum, leap_hash64(meta, meta_len, 0));
    sum = leap_mix64(sum, leap_hash64(fzt, fz_len, 0));
    sum = leap_mix64(sum, leap_hash64(z, zlen, 0));
    leap_put_u64(buf + size - 8, sum);
    return 0;
}

double leap_fit_logit_shift(const float *q, const float *y, const float *w, size_t n,
                            double neg_rate) {
    double sy = 0;
    for (size_t i = 0; i < n; i++)
        sy += (w ? w[i] : 1.0) * y[i];
    double lo = -10, hi = 10;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi), sp = 0;
        for (size_t i = 0; i < n; i++)
            sp += (w ? w[i] : 1.0) * leap_calibrate_neg_rate(leap_shift_logit(q[i], mid), neg_rate);
        if (sp > sy)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}
