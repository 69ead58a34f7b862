/* gbdt.c — histogram gradient-boosted trees: the model's options, feature
 * layout, prediction, payload and description. Training lives in
 * gbdt_train.c, trees + LR in gbdt_lr.c.
 *
 * Prediction decodes a block of rows from CSR into a dense [rows][F] block of
 * local indices on the stack, then runs the trees one at a time over the
 * whole block: a tree's nodes stay in cache while the rows of the block
 * descend it level by level, and the rows' descents are independent chains of
 * loads the CPU overlaps. Leaves point to themselves, so every row takes
 * exactly the tree's depth steps with no leaf test. Nothing is allocated.
 *
 * Does not train (gbdt_train.c) and does not read files (the bundle does).
 */
#include "gbdt_internal.h"

#include <stdlib.h>
#include <string.h>

static const leap_opt_def gbdt_defs[] = {GBDT_OPT_DEFS(0, 300, 1)};
const leap_opt_table leap__gbdt_opt_table = {"model gbdt", gbdt_defs,
                                             sizeof gbdt_defs / sizeof gbdt_defs[0]};

/* ---- layout --------------------------------------------------------------- */

int leap__gbdt_layout(gbdt_model *g, const leap_featurizer *fz, leap_err *err) {
    uint32_t F = 0;
    for (size_t i = 0; i < fz->n_fields; i++) {
        const leap_fz_field *f = &fz->fields[i];
        switch (f->kind) {
        case LEAP_FZ_KIND_HASHED:
            return leap_err_set(err, LEAP_EINVAL,
                                "gbdt needs a transform that bins numerics and indexes "
                                "categoricals (leap train --transform SPEC); field '%s' is hashed",
                                f->name);
        case LEAP_FZ_KIND_DENSE:
            return leap_err_set(err, LEAP_EINVAL,
                                "gbdt: field '%s' is a raw numeric value; bucketize it in the "
                                "transform spec (bucketize: {quantiles: 255})",
                                f->name);
        case LEAP_FZ_KIND_ORDINAL:
        case LEAP_FZ_KIND_CATEGORICAL: break;
        default: return leap_err_set(err, LEAP_EINVAL, "gbdt: field '%s' of unknown kind", f->name);
        }
        if (f->multi)
            return leap_err_set(err, LEAP_EINVAL,
                                "gbdt: field '%s' is multi-valued; trees need one value per field "
                                "(drop it from the transform spec)",
                                f->name);
        if (f->card < 1 || (uint64_t)f->offset + f->card > fz->n_buckets)
            return leap_err_set(err, LEAP_EINVAL, "gbdt: field '%s' lies outside the feature space",
                                f->name);
        F++;
    }
    if (F == 0) return leap_err_set(err, LEAP_EINVAL, "gbdt: the featurizer has no fields");
    if (F > GB_MAX_FEATURES)
        return leap_err_set(err, LEAP_EINVAL, "gbdt: %u fields; at most %d are supported", F,
                            GB_MAX_FEATURES);
    g->F = F;
    g->n_fields = fz->n_fields;
    g->feat = calloc(F, sizeof *g->feat);
    g->feat_of = calloc(fz->n_fields, sizeof *g->feat_of);
    g->imp_gain = calloc(F, sizeof *g->imp_gain);
    g->imp_split = calloc(F, sizeof *g->imp_split);
    if (!g->feat || !g->feat_of || !g->imp_gain || !g->imp_split)
        return leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory");
    uint32_t j = 0;
    uint32_t mb = (uint32_t)g->o.max_bin;
    for (size_t i = 0; i < fz->n_fields; i++) {
        const leap_fz_field *f = &fz->fields[i];
        gb_feature *ft = &g->feat[j];
        ft->field = (uint32_t)i;
        ft->offset = f->offset;
        ft->card = f->card;
        ft->cat = f->kind == LEAP_FZ_KIND_CATEGORICAL;
        ft->nbins = f->card <= mb + 1 ? f->card : mb + 1;
        g->feat_of[i] = (int32_t)j++;
    }
    return LEAP_OK;
}

void leap__gbdt_free(gbdt_model *g) {
    if (!g) return;
    leap__gbdt_fast_free(g);
    free(g->feat);
    free(g->feat_of);
    free(g->imp_gain);
    free(g->imp_split);
    free(g->trees);
    free(g->nodes);
    free(g->cat_words);
    free(g);
}

int leap__gbdt_alloc(const gbdt_opts *o, const leap_featurizer *fz, gbdt_model **out,
                     leap_err *err) {
    gbdt_model *g = calloc(1, sizeof *g);
    if (!g) return leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory");
    extern const leap_model_ops leap_model_gbdt;
    g->base.ops = &leap_model_gbdt;
    g->o = *o;
    g->best_valid = NAN;
    int rc = leap__gbdt_layout(g, fz, err);
    if (rc) {
        leap__gbdt_free(g);
        return rc;
    }
    *out = g;
    return LEAP_OK;
}

int leap__gbdt_reserve(gbdt_model *g, uint32_t trees, uint32_t nodes_per_tree, leap_err *err) {
    uint64_t nodes = (uint64_t)trees * nodes_per_tree;
    uint64_t words = (uint64_t)trees * (nodes_per_tree / 2) * GB_CAT_WORDS;
    if (nodes > UINT32_MAX || words > UINT32_MAX)
        return leap_err_set(err, LEAP_EINVAL, "gbdt: %u trees of %u nodes are too many", trees,
                            nodes_per_tree);
    leap__gbdt_fast_free(g);
    free(g->trees);
    free(g->nodes);
    free(g->cat_words);
    g->trees = malloc((trees ? trees : 1) * sizeof *g->trees);
    g->nodes = malloc((nodes ? nodes : 1) * sizeof *g->nodes);
    g->cat_words = malloc((words ? words : 1) * sizeof *g->cat_words);
    if (g->cat_words) g->cat_words[0] = 0; /* gb_step reads word 0 for ordinal nodes */
    g->n_trees = g->n_nodes = g->n_words = 0;
    g->cap_trees = trees;
    g->cap_nodes = (uint32_t)nodes;
    g->cap_words = (uint32_t)words;
    if (!g->trees || !g->nodes || !g->cat_words)
        return leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory for %u trees", trees);
    return LEAP_OK;
}

/* ---- prediction ------------------------------------------------------------ */

/* Local indices of row r of b into x[F] (0 = missing). Entries of fields the
 * model does not use, or outside a field's range, are ignored. */
void leap__gbdt_decode_row(const gbdt_model *g, const leap_fbatch *b, size_t r, uint32_t *x) {
    memset(x, 0, g->F * sizeof *x);
    for (uint32_t k = b->row_ptr[r]; k < b->row_ptr[r + 1]; k++) {
        uint32_t idx = b->idx[k];
        int32_t j = -1;
        if (b->field) {
            if (b->field[k] < g->n_fields) j = g->feat_of[b->field[k]];
        } else { /* callers without field ids: find the range */
            for (uint32_t f = 0; f < g->F; f++)
                if (idx - g->feat[f].offset < g->feat[f].card) {
                    j = (int32_t)f;
                    break;
                }
        }
        if (j < 0) continue;
        uint32_t loc = idx - g->feat[j].offset;
        if (idx >= g->feat[j].offset && loc < g->feat[j].card) x[j] = loc;
    }
}

#define GB_BLOCK_WORDS 2048 /* decoded block on the stack (8 KB: server threads have ~100 KB) */
#define GB_BLOCK_ROWS  64

#define GB_FEW_ROWS   4
#define GB_TREE_BLOCK 16

/* acc plus the leaves of one row over all trees, descending GB_TREE_BLOCK trees
 * side by side: their chains of dependent loads overlap (one row alone has
 * no other parallelism). Leaves point to themselves, so the trees of a block
 * all take the block's largest depth. Values are added in tree order, as the
 * row-block path does: both give the same bits. */
static double few_rows_sum(const gbdt_model *g, const uint32_t *x, double acc) {
    uint32_t c[GB_TREE_BLOCK];
    for (uint32_t t0 = 0; t0 < g->n_trees; t0 += GB_TREE_BLOCK) {
        uint32_t m = g->n_trees - t0 < GB_TREE_BLOCK ? g->n_trees - t0 : GB_TREE_BLOCK, dmax = 0;
        for (uint32_t j = 0; j < m; j++) {
            c[j] = g->trees[t0 + j].root;
            if (g->trees[t0 + j].depth > dmax) dmax = g->trees[t0 + j].depth;
        }
        for (uint32_t d = 0; d < dmax; d++)
            for (uint32_t j = 0; j < m; j++)
                c[j] = gb_step(&g->nodes[c[j]], g->cat_words, x);
        for (uint32_t j = 0; j < m; j++)
            acc += g->nodes[c[j]].value;
    }
    return acc;
}

void leap__gbdt_raw_batch(const gbdt_model *g, const leap_fbatch *b, double *s) {
    if (g->fast && leap__gbdt_fast_raw(g, b, s, g->fast->kernel)) return;
    leap__gbdt_raw_batch_ref(g, b, s);
}

void leap__gbdt_raw_batch_ref(const gbdt_model *g, const leap_fbatch *b, double *s) {
    uint32_t xb[GB_BLOCK_WORDS];
    uint32_t cur[GB_BLOCK_ROWS];
    const uint32_t F = g->F;
    size_t R = GB_BLOCK_WORDS / F;
    if (R > GB_BLOCK_ROWS) R = GB_BLOCK_ROWS;
    const gb_node *nodes = g->nodes;
    const uint32_t *words = g->cat_words;
    for (size_t r0 = 0; r0 < b->n_rows; r0 += R) {
        size_t nr = b->n_rows - r0 < R ? b->n_rows - r0 : R;
        for (size_t i = 0; i < nr; i++) {
            leap__gbdt_decode_row(g, b, r0 + i, xb + i * F);
            s[r0 + i] = g->base_score;
        }
        if (nr < GB_FEW_ROWS) { /* a few rows: descend 16 trees at once instead */
            for (size_t i = 0; i < nr; i++)
                s[r0 + i] = few_rows_sum(g, xb + i * F, s[r0 + i]);
            continue;
        }
        for (uint32_t t = 0; t < g->n_trees; t++) {
            const gb_tree *T = &g->trees[t];
            for (size_t i = 0; i < nr; i++)
                cur[i] = T->root;
            for (uint32_t d = 0; d < T->depth; d++)
                for (size_t i = 0; i < nr; i++)
                    cur[i] = gb_step(&nodes[cur[i]], words, xb + i * F);
            for (size_t i = 0; i < nr; i++)
                s[r0 + i] += nodes[cur[i]].value;
        }
    }
}

void leap__gbdt_leaves(const gbdt_model *g, const leap_fbatch *b, uint32_t *leaves) {
    if (leap__gbdt_fast_leaves(g, b, leaves)) return;
    uint32_t xs[256], *x = g->F <= 256 ? xs : malloc((size_t)g->F * sizeof *x);
    if (!x) { /* out of memory: the root of every tree, never a wild index */
        for (size_t r = 0; r < b->n_rows; r++)
            for (uint32_t t = 0; t < g->n_trees; t++)
                leaves[r * g->n_trees + t] = g->trees[t].root;
        return;
    }
    for (size_t r = 0; r < b->n_rows; r++) {
        leap__gbdt_decode_row(g, b, r, x);
        for (uint32_t t = 0; t < g->n_trees; t++) {
            const gb_tree *T = &g->trees[t];
            leaves[r * g->n_trees + t] = gb_descend(g->nodes, g->cat_words, T->root, T->depth, x);
        }
    }
    if (x != xs) free(x);
}

static float link(const gbdt_model *g, double s) {
    if (g->o.objective == GB_SQUARED) return s < 0 ? 0.f : (s > 1 ? 1.f : (float)s);
    if (s > 35) s = 35;
    if (s < -35) s = -35;
    return (float)(1.0 / (1.0 + exp(-s)));
}

static void gbdt_predict_batch(const leap_model *m, const leap_fbatch *b, float *p) {
    const gbdt_model *g = (const gbdt_model *)m;
    double s[GB_BLOCK_ROWS];
    for (size_t r0 = 0; r0 < b->n_rows; r0 += GB_BLOCK_ROWS) {
        size_t nr = b->n_rows - r0 < GB_BLOCK_ROWS ? b->n_rows - r0 : GB_BLOCK_ROWS;
        leap_fbatch sub = *b;
        sub.n_rows = nr;
        sub.row_ptr = b->row_ptr + r0;
        leap__gbdt_raw_batch(g, &sub, s);
        for (size_t i = 0; i < nr; i++)
            p[r0 + i] = link(g, s[i]);
    }
}

/* ---- payload ------------------------------------------------------------------
 * Little-endian, version 1:
 *   "GBDT" u32 version u32 objective u32 F u32 n_trees u32 n_nodes u32 n_words
 *   f64 base_score u32 best_iter f64 best_valid
 *   F       x {u32 field, offset, card, nbins, cat}
 *   n_trees x {u32 root, n_nodes, depth}
 *   n_nodes x {u32 left, right, thr, miss; u16 feat; u8 cat, leaf; f32 value}
 *   n_words x u32
 *   F       x {f64 gain, u64 splits}
 */
#define GB_MAGIC   "GBDT"
#define GB_VERSION 1
#define GB_HEAD    (4 + 6 * 4 + 8 + 4 + 8)

static uint64_t f64_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}
static double bits_f64(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int leap__gbdt_save(const gbdt_model *g, leap_buf *out, leap_err *err) {
    size_t n = GB_HEAD + (size_t)g->F * 20 + (size_t)g->n_trees * 12 + (size_t)g->n_nodes * 24 +
               (size_t)g->n_words * 4 + (size_t)g->F * 16;
    uint8_t *p = malloc(n), *q = p;
    if (!p) return leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory while saving");
    memcpy(q, GB_MAGIC, 4);
    q += 4;
    uint32_t head[6] = {GB_VERSION, (uint32_t)g->o.objective, g->F, g->n_trees, g->n_nodes,
                        g->n_words};
    for (int i = 0; i < 6; i++, q += 4)
        leap_put_u32(q, head[i]);
    leap_put_u64(q, f64_bits(g->base_score));
    leap_put_u32(q + 8, (uint32_t)g->best_iter);
    leap_put_u64(q + 12, f64_bits(g->best_valid));
    q += 20;
    for (uint32_t j = 0; j < g->F; j++, q += 20) {
        const gb_feature *f = &g->feat[j];
        leap_put_u32(q, f->field);
        leap_put_u32(q + 4, f->offset);
        leap_put_u32(q + 8, f->card);
        leap_put_u32(q + 12, f->nbins);
        leap_put_u32(q + 16, f->cat);
    }
    for (uint32_t t = 0; t < g->n_trees; t++, q += 12) {
        leap_put_u32(q, g->trees[t].root);
        leap_put_u32(q + 4, g->trees[t].n_nodes);
        leap_put_u32(q + 8, g->trees[t].depth);
    }
    for (uint32_t i = 0; i < g->n_nodes; i++, q += 24) {
        const gb_node *nd = &g->nodes[i];
        leap_put_u32(q, nd->left);
        leap_put_u32(q + 4, nd->right);
        leap_put_u32(q + 8, nd->thr);
        leap_put_u32(q + 12, nd->miss);
        q[16] = (uint8_t)(nd->feat & 0xff);
        q[17] = (uint8_t)(nd->feat >> 8);
        q[18] = nd->cat;
        q[19] = nd->leaf;
        leap_put_u32(q + 20, f32_bits(nd->value));
    }
    for (uint32_t i = 0; i < g->n_words; i++, q += 4)
        leap_put_u32(q, g->cat_words[i]);
    for (uint32_t j = 0; j < g->F; j++, q += 16) {
        leap_put_u64(q, f64_bits(g->imp_gain[j]));
        leap_put_u64(q + 8, g->imp_split[j]);
    }
    int rc = leap_buf_append(out, p, n);
    free(p);
    return rc ? leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory while saving") : LEAP_OK;
}

#define CORRUPT(...) (rc = leap_err_set(err, LEAP_ECORRUPT, "gbdt payload: " __VA_ARGS__))

/* Checks tree t: nodes in its range, children after their parent (so every
 * descent ends), leaves pointing to themselves, split features and bitsets
 * in range, finite leaf values, and the recorded depth. dep: scratch [n]. */
static int check_tree(const gbdt_model *g, uint32_t t, uint32_t *dep, leap_err *err) {
    int rc = LEAP_OK;
    const gb_tree *T = &g->trees[t];
    uint32_t a = T->root, e = T->root + T->n_nodes, maxd = 0;
    for (uint32_t i = 0; i < T->n_nodes; i++)
        dep[i] = i == 0 ? 0 : UINT32_MAX;
    for (uint32_t i = a; i < e; i++) {
        const gb_node *nd = &g->nodes[i];
        uint32_t d = dep[i - a];
        if (d == UINT32_MAX) return CORRUPT("tree %u: node %u is not reachable", t, i - a);
        if (nd->leaf) {
            if (nd->left != i || nd->right != i)
                return CORRUPT("tree %u: leaf %u has children", t, i - a);
            /* a descent still reads a leaf's test (the self-loop): keep it in range */
            if (nd->feat >= g->F || nd->cat)
                return CORRUPT("tree %u: leaf %u has a split", t, i - a);
            if (!isfinite(nd->value)) return CORRUPT("tree %u: leaf %u is not finite", t, i - a);
            if (d > maxd) maxd = d;
            continue;
        }
        if (nd->left <= i || nd->left >= e || nd->right <= i || nd->right >= e ||
            nd->left == nd->right)
            return CORRUPT("tree %u: node %u has a child index out of range", t, i - a);
        if (nd->feat >= g->F || nd->cat != g->feat[nd->feat].cat)
            return CORRUPT("tree %u: node %u splits on a bad feature", t, i - a);
        if (nd->cat && ((uint64_t)nd->thr + GB_CAT_WORDS > g->n_words || nd->miss > GB_MAX_BIN))
            return CORRUPT("tree %u: node %u has a bad category set", t, i - a);
        uint32_t cd[2] = {nd->left - a, nd->right - a};
        for (int k = 0; k < 2; k++) {
            if (dep[cd[k]] != UINT32_MAX)
                return CORRUPT("tree %u: node %u has two parents", t, cd[k]);
            dep[cd[k]] = d + 1;
        }
    }
    if (maxd != T->depth) return CORRUPT("tree %u: depth %u recorded, %u found", t, T->depth, maxd);
    return rc;
}

int leap__gbdt_parse(const gbdt_opts *o, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                     size_t *used, gbdt_model **out, leap_err *err) {
    int rc = LEAP_OK;
    if (len < GB_HEAD) return CORRUPT("%zu bytes is too short", len);
    if (memcmp(buf, GB_MAGIC, 4)) return CORRUPT("bad magic");
    const uint8_t *q = buf + 4;
    uint32_t ver = leap_get_u32(q), obj = leap_get_u32(q + 4), F = leap_get_u32(q + 8);
    uint32_t nt = leap_get_u32(q + 12), nn = leap_get_u32(q + 16), nw = leap_get_u32(q + 20);
    if (ver != GB_VERSION)
        return leap_err_set(err, LEAP_EVERSION,
                            "gbdt payload: version %u; this leap reads version %d", ver,
                            GB_VERSION);
    uint64_t need = GB_HEAD + (uint64_t)F * 20 + (uint64_t)nt * 12 + (uint64_t)nn * 24 +
                    (uint64_t)nw * 4 + (uint64_t)F * 16;
    if (need > len)
        return CORRUPT("truncated: %zu bytes, %llu needed", len, (unsigned long long)need);
    if (obj != (uint32_t)o->objective)
        return CORRUPT("objective %u does not match the options (%d)", obj, o->objective);
    if (nt > 0 && nn == 0) return CORRUPT("%u trees without nodes", nt);
    gbdt_model *g = NULL;
    if ((rc = leap__gbdt_alloc(o, fz, &g, err))) return rc;
    uint32_t *dep = NULL;
    if (g->F != F) {
        CORRUPT("%u features; the featurizer has %u", F, g->F);
        goto fail;
    }
    g->base_score = bits_f64(leap_get_u64(q + 24));
    g->best_iter = (int)leap_get_u32(q + 32);
    g->best_valid = bits_f64(leap_get_u64(q + 36));
    if (!isfinite(g->base_score)) {
        CORRUPT("base score is not finite");
        goto fail;
    }
    q = buf + GB_HEAD;
    for (uint32_t j = 0; j < F; j++, q += 20) {
        const gb_feature *f = &g->feat[j];
        if (leap_get_u32(q) != f->field || leap_get_u32(q + 4) != f->offset ||
            leap_get_u32(q + 8) != f->card || leap_get_u32(q + 16) != f->cat) {
            CORRUPT("feature %u does not match the featurizer's field layout", j);
            goto fail;
        }
        uint32_t nb = leap_get_u32(q + 12);
        if (nb < 1 || nb > GB_MAX_BIN + 1 || nb > f->card) {
            CORRUPT("feature %u: %u bins", j, nb);
            goto fail;
        }
        g->feat[j].nbins = nb;
    }
    free(g->trees);
    free(g->nodes);
    free(g->cat_words);
    g->trees = malloc((nt ? nt : 1) * sizeof *g->trees);
    g->nodes = malloc((nn ? nn : 1) * sizeof *g->nodes);
    g->cat_words = malloc((nw ? nw : 1) * sizeof *g->cat_words);
    if (g->cat_words) g->cat_words[0] = 0; /* gb_step reads word 0 for ordinal nodes */
    dep = malloc((nn ? nn : 1) * sizeof *dep);
    if (!g->trees || !g->nodes || !g->cat_words || !dep) {
        rc = leap_err_set(err, LEAP_ENOMEM, "gbdt payload: out of memory");
        goto fail;
    }
    g->cap_trees = g->n_trees = nt;
    g->cap_nodes = g->n_nodes = nn;
    g->cap_words = g->n_words = nw;
    uint32_t next = 0;
    for (uint32_t t = 0; t < nt; t++, q += 12) {
        gb_tree *T = &g->trees[t];
        T->root = leap_get_u32(q);
        T->n_nodes = leap_get_u32(q + 4);
        T->depth = leap_get_u32(q + 8);
        if (T->root != next || T->n_nodes == 0 || T->n_nodes > nn - next) {
            CORRUPT("tree %u: nodes out of range", t);
            goto fail;
        }
        next += T->n_nodes;
    }
    if (next != nn) {
        CORRUPT("%u nodes, the trees use %u", nn, next);
        goto fail;
    }
    for (uint32_t i = 0; i < nn; i++, q += 24) {
        gb_node *nd = &g->nodes[i];
        nd->left = leap_get_u32(q);
        nd->right = leap_get_u32(q + 4);
        nd->thr = leap_get_u32(q + 8);
        nd->miss = leap_get_u32(q + 12);
        nd->feat = (uint16_t)(q[16] | (q[17] << 8));
        nd->cat = q[18];
        nd->leaf = q[19];
        nd->value = bits_f32(leap_get_u32(q + 20));
        if (nd->cat > 1 || nd->leaf > 1) {
            CORRUPT("node %u: bad flags", i);
            goto fail;
        }
    }
    for (uint32_t i = 0; i < nw; i++, q += 4)
        g->cat_words[i] = leap_get_u32(q);
    for (uint32_t j = 0; j < F; j++, q += 16) {
        g->imp_gain[j] = bits_f64(leap_get_u64(q));
        g->imp_split[j] = leap_get_u64(q + 8);
        if (!isfinite(g->imp_gain[j])) {
            CORRUPT("importance of feature %u is not finite", j);
            goto fail;
        }
    }
    for (uint32_t t = 0; t < nt; t++)
        if ((rc = check_tree(g, t, dep, err))) goto fail;
    free(dep);
    leap__gbdt_fast_build(g);
    *used = (size_t)need;
    *out = g;
    return LEAP_OK;
fail:
    free(dep);
    leap__gbdt_free(g);
    return rc;
}

/* ---- description ------------------------------------------------------------ */

void leap__gbdt_describe(const gbdt_model *g, const leap_featurizer *fz, FILE *f) {
    uint64_t leaves = 0, splits = 0;
    double depth = 0, total = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        leaves += g->nodes[i].leaf;
    for (uint32_t t = 0; t < g->n_trees; t++)
        depth += g->trees[t].depth;
    for (uint32_t j = 0; j < g->F; j++) {
        total += g->imp_gain[j];
        splits += g->imp_split[j];
    }
    fprintf(f, "gbdt.trees                   %u (objective %s, base score %.6g)\n", g->n_trees,
            g->o.objective == GB_SQUARED ? "squared" : "logistic", g->base_score);
    if (!isnan(g->best_valid))
        fprintf(f, "gbdt.best_valid_loss         %.6f after %d trees\n", g->best_valid,
                g->best_iter);
    fprintf(f, "gbdt.nodes                   %u (%llu leaves, mean depth %.2f)\n", g->n_nodes,
            (unsigned long long)leaves, g->n_trees ? depth / g->n_trees : 0.0);
    if (g->fast)
        fprintf(f, "gbdt.scoring                 complete trees of depth %u, %s kernel\n",
                g->fast->depth, leap__gbdt_kernel_name(g->fast->kernel));
    else
        fprintf(f, "gbdt.scoring                 trained nodes (no scoring layout)\n");
    /* features by decreasing gain (insertion sort of an index: F is small) */
    uint32_t *ord = malloc((g->F ? g->F : 1) * sizeof *ord);
    if (!ord) return;
    for (uint32_t j = 0; j < g->F; j++) {
        uint32_t k = j;
        while (k > 0 && g->imp_gain[ord[k - 1]] < g->imp_gain[j]) {
            ord[k] = ord[k - 1];
            k--;
        }
        ord[k] = j;
    }
    fprintf(f, "gbdt.importance              feature, kind, gain share, total gain, splits\n");
    for (uint32_t k = 0; k < g->F; k++) {
        uint32_t j = ord[k];
        if (g->imp_split[j] == 0) continue;
        const char *name =
            g->feat[j].field < fz->n_fields ? fz->fields[g->feat[j].field].name : "?";
        fprintf(f, "  %-26s %-11s %6.2f%%  %12.6g  %llu\n", name,
                g->feat[j].cat ? "categorical" : "ordinal",
                total > 0 ? 100.0 * g->imp_gain[j] / total : 0.0, g->imp_gain[j],
                (unsigned long long)g->imp_split[j]);
    }
    fprintf(f, "  (%llu splits in all; features never split are not listed)\n",
            (unsigned long long)splits);
    free(ord);
}

/* ---- ops ------------------------------------------------------------------------ */

static int gbdt_create(const void *opts, const leap_featurizer *fz, leap_model **out,
                       leap_err *err) {
    gbdt_model *g = NULL;
    int rc = leap__gbdt_alloc(opts, fz, &g, err);
    if (rc) return rc;
    *out = &g->base;
    return LEAP_OK;
}

static void gbdt_destroy(leap_model *m) { leap__gbdt_free((gbdt_model *)m); }

/* Trees train by full passes (fit); a batch alone teaches them nothing. */
static void gbdt_train_batch(leap_model *m, const leap_fbatch *b, int thread, double sums[2]) {}

static int gbdt_save(const leap_model *m, leap_buf *out, leap_err *err) {
    return leap__gbdt_save((const gbdt_model *)m, out, err);
}

static int gbdt_load(const void *opts, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                     leap_model **out, leap_err *err) {
    gbdt_model *g = NULL;
    size_t used = 0;
    int rc = leap__gbdt_parse(opts, fz, buf, len, &used, &g, err);
    if (rc) return rc;
    if (used != len) {
        leap__gbdt_free(g);
        return leap_err_set(err, LEAP_ECORRUPT, "gbdt payload: %zu trailing bytes", len - used);
    }
    *out = &g->base;
    return LEAP_OK;
}

static void gbdt_describe(const leap_model *m, const leap_featurizer *fz, FILE *f) {
    leap__gbdt_describe((const gbdt_model *)m, fz, f);
}

int leap__gbdt_fit(leap_model *m, leap_fit_io *io, leap_err *err);

const leap_model_ops leap_model_gbdt = {
    .name = "gbdt",
    .help = "histogram gradient-boosted trees (needs binned/indexed features: --transform)",
    .opts = &leap__gbdt_opt_table,
    .opts_size = sizeof(gbdt_opts),
    .needs_bins = 1,
    .create = gbdt_create,
    .destroy = gbdt_destroy,
    .train_batch = gbdt_train_batch,
    .predict_batch = gbdt_predict_batch,
    .fit = leap__gbdt_fit,
    .save = gbdt_save,
    .load = gbdt_load,
    .describe = gbdt_describe,
};
