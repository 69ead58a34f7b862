/* Unit tests for the GBDT scoring layout (gbdt_fast.c): every kernel this
 * CPU runs must give the reference descent's scores bit for bit, and the same
 * leaves, on random trees (ordinal and categorical splits, both missing
 * directions, thresholds beyond a field's range, trees shallower than the
 * deepest) and random rows (missing values, absent entries, indices outside
 * their field, batches with and without field ids, every batch size the
 * kernels treat differently). Models the layout cannot hold must fall back. */
#include "harness.h"
#include "leap/model.h"
#include "models/gbdt_internal.h"

/* ---- a random model ------------------------------------------------------------ */

typedef struct rnd_model {
    leap_featurizer fz;
    gbdt_model *g;
    uint32_t *fold; /* [F] the fold bin of each categorical feature */
} rnd_model;

static uint32_t below(leap_rng *r, uint32_t n) { return (uint32_t)(leap_rng_next(r) % n); }

/* Appends a random subtree of at most `depth` levels; returns its node. */
static uint32_t grow(rnd_model *m, leap_rng *r, uint32_t depth, uint32_t *maxd, uint32_t d) {
    gbdt_model *g = m->g;
    uint32_t i = g->n_nodes++;
    gb_node *nd = &g->nodes[i];
    memset(nd, 0, sizeof *nd);
    if (d > *maxd) *maxd = d;
    if (d == depth || (d > 0 && leap_rng_uniform(r) < 0.15)) {
        nd->left = nd->right = i;
        nd->leaf = 1;
        nd->feat = (uint16_t)below(r, g->F);
        nd->value = (float)(leap_rng_uniform(r) * 2 - 1) * 0.3f;
        return i;
    }
    uint16_t f = (uint16_t)below(r, g->F);
    const gb_feature *ft = &g->feat[f];
    nd->feat = f;
    if (ft->cat) {
        nd->cat = 1;
        nd->miss = m->fold[f];
        nd->thr = g->n_words;
        for (int w = 0; w < GB_CAT_WORDS; w++)
            g->cat_words[g->n_words++] = (uint32_t)leap_rng_next(r);
    } else {
        /* thresholds from a small set (so features repeat them), sometimes
         * past the field's range; missing left, right, or an odd value */
        uint32_t u = below(r, 10);
        nd->thr = u == 0 ? ft->card + below(r, 5) : (below(r, 12) * 7) % ft->card;
        uint32_t mm = below(r, 5);
        nd->miss = mm == 0 ? UINT32_MAX : mm == 1 ? 0 : mm == 2 ? below(r, ft->card) : 0;
    }
    uint32_t a = grow(m, r, depth, maxd, d + 1);
    uint32_t b = grow(m, r, depth, maxd, d + 1);
    g->nodes[i].left = a;
    g->nodes[i].right = b;
    return i;
}

/* F fields (every third categorical; cards up to 600, so some ordinals are
 * wider than a byte and some categoricals fold), `trees` random trees of at
 * most `depth` levels. */
static void rnd_model_make(rnd_model *m, uint32_t F, uint32_t trees, uint32_t depth,
                           uint64_t seed) {
    leap_rng r = {seed};
    memset(m, 0, sizeof *m);
    m->fz.fields = calloc(F, sizeof *m->fz.fields);
    m->fz.n_fields = F;
    uint32_t off = 0;
    for (uint32_t i = 0; i < F; i++) {
        leap_fz_field *f = &m->fz.fields[i];
        snprintf(f->column, sizeof f->column, "f%u", i);
        snprintf(f->name, sizeof f->name, "f%u", i);
        f->kind = i % 3 == 2 ? LEAP_FZ_KIND_CATEGORICAL : LEAP_FZ_KIND_ORDINAL;
        f->offset = off;
        f->card = 2 + below(&r, i % 4 == 0 ? 600 : 40);
        off += f->card;
    }
    m->fz.n_buckets = off;
    gbdt_opts o;
    leap_opts_defaults(&leap__gbdt_opt_table, &o);
    leap_err err = {0};
    if (leap__gbdt_alloc(&o, &m->fz, &m->g, &err) ||
        leap__gbdt_reserve(m->g, trees, (2u << depth) - 1, &err)) {
        TH_FAIL("alloc: %s", err.msg);
        return;
    }
    m->fold = calloc(F, sizeof *m->fold);
    for (uint32_t j = 0; j < F; j++) /* the fold bin: at most max_bin, below the card */
        m->fold[j] = m->g->feat[j].card - 1 < GB_MAX_BIN ? m->g->feat[j].card - 1 : GB_MAX_BIN;
    m->g->base_score = -1.25;
    for (uint32_t t = 0; t < trees; t++) {
        uint32_t maxd = 0, root = m->g->n_nodes;
        uint32_t d = t % 5 == 0 ? below(&r, depth + 1) : depth;
        grow(m, &r, d, &maxd, 0);
        m->g->trees[t] = (gb_tree){root, m->g->n_nodes - root, maxd};
        m->g->n_trees++;
    }
    leap__gbdt_fast_build(m->g);
}

static void rnd_model_free(rnd_model *m) {
    leap__gbdt_free(m->g);
    leap_featurizer_free(&m->fz);
    free(m->fold);
}

/* n random rows of g's features as one CSR batch: each field present with
 * probability 0.9 (its local index 0 = missing 10% of the time), sometimes an
 * index past the field's range, in shuffled entry order. */
static void rnd_rows(const gbdt_model *g, size_t n, uint64_t seed, int with_fields,
                     leap_fbatch *b) {
    leap_rng r = {seed};
    memset(b, 0, sizeof *b);
    b->n_rows = n;
    b->row_ptr = malloc((n + 1) * sizeof *b->row_ptr);
    b->idx = malloc((n * g->F + 1) * sizeof *b->idx);
    b->val = malloc((n * g->F + 1) * sizeof *b->val);
    b->field = with_fields ? malloc((n * g->F + 1) * sizeof *b->field) : NULL;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        b->row_ptr[i] = k;
        for (uint32_t j = 0; j < g->F; j++) {
            if (leap_rng_uniform(&r) < 0.1) continue;
            const gb_feature *ft = &g->feat[j];
            uint32_t loc = leap_rng_uniform(&r) < 0.1 ? 0 : below(&r, ft->card);
            if (with_fields && leap_rng_uniform(&r) < 0.02) loc = ft->card + below(&r, 3);
            b->idx[k] = ft->offset + loc;
            b->val[k] = 1;
            if (with_fields) b->field[k] = (uint16_t)ft->field;
            k++;
        }
        for (uint32_t q = b->row_ptr[i]; q + 1 < k; q++) { /* shuffle the row's entries */
            uint32_t z = q + below(&r, k - q);
            uint32_t t = b->idx[q];
            b->idx[q] = b->idx[z];
            b->idx[z] = t;
            if (with_fields) {
                uint16_t u = b->field[q];
                b->field[q] = b->field[z];
                b->field[z] = u;
            }
        }
    }
    b->row_ptr[n] = k;
}

static void rows_free(leap_fbatch *b) {
    free(b->row_ptr);
    free(b->idx);
    free(b->val);
    free(b->field);
}

/* Every kernel this CPU runs against the reference on rows of g, for batch
 * sizes that take each path (1-3 rows: trees side by side; partial vectors;
 * several blocks). Tolerance: none, the bits must match. */
static void check_kernels(const gbdt_model *g, uint64_t seed) {
    static const size_t sizes[] = {1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 129, 300};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int wf = 0; wf <= 1; wf++) {
            size_t n = sizes[si];
            leap_fbatch b;
            rnd_rows(g, n, seed + si * 2 + (uint64_t)wf, wf, &b);
            double *ref = malloc(n * sizeof *ref), *s = malloc(n * sizeof *s);
            leap__gbdt_raw_batch_ref(g, &b, ref);
            for (int k = GB_KERNEL_SCALAR; k < GB_KERNEL_COUNT; k++) {
                if (!leap__gbdt_kernel_available(k)) continue;
                for (size_t i = 0; i < n; i++)
                    s[i] = 12345;
                ASSERT_TRUE(leap__gbdt_fast_raw(g, &b, s, k));
                for (size_t i = 0; i < n; i++)
                    if (memcmp(&s[i], &ref[i], sizeof *s))
                        TH_FAIL("kernel %d, %zu rows (fields %d), row %zu: %.17g, reference "
                                "%.17g",
                                k, n, wf, i, s[i], ref[i]);
            }
            /* the leaves gbdt_lr reads: the trained node each row reaches */
            uint32_t *lv = malloc(n * g->n_trees * sizeof *lv);
            uint32_t x[GB_MAX_FEATURES];
            ASSERT_TRUE(leap__gbdt_fast_leaves(g, &b, lv));
            for (size_t i = 0; i < n; i++) {
                leap__gbdt_decode_row(g, &b, i, x);
                for (uint32_t t = 0; t < g->n_trees; t++) {
                    const gb_tree *T = &g->trees[t];
                    uint32_t want = gb_descend(g->nodes, g->cat_words, T->root, T->depth, x);
                    if (lv[i * g->n_trees + t] != want)
                        TH_FAIL("%zu rows, row %zu tree %u: leaf %u, reference %u", n, i, t,
                                lv[i * g->n_trees + t], want);
                }
            }
            free(lv);
            free(ref);
            free(s);
            rows_free(&b);
        }
}

/* The kernels check_kernels skips on this CPU are named, so a run on a
 * machine without AVX2 or AVX-512 says what it did not test; the layout
 * picks the fastest one there is (AVX-512 > AVX2 > scalar). */
TEST(layout_picks_the_fastest_kernel_this_cpu_runs) {
    int best = GB_KERNEL_SCALAR;
    for (int k = GB_KERNEL_SCALAR; k < GB_KERNEL_COUNT; k++) {
        if (leap__gbdt_kernel_available(k))
            best = k;
        else
            printf("  (skipped: no %s scoring kernel on this CPU or build)\n",
                   leap__gbdt_kernel_name(k));
    }
    ASSERT_TRUE(leap__gbdt_kernel_available(GB_KERNEL_REF));
    ASSERT_TRUE(!leap__gbdt_kernel_available(GB_KERNEL_COUNT));
    rnd_model m;
    rnd_model_make(&m, 10, 5, 3, 3);
    ASSERT_TRUE(m.g->fast != NULL);
    ASSERT_EQ_INT(m.g->fast->kernel, best);
    rnd_model_free(&m);
}

TEST(kernels_match_reference_on_random_trees) {
    /* (features, trees, depth): depth-6 models like the bench's, shallow and
     * deep ones, a tree count that is not a multiple of 16, F > 64 (the
     * one-row AVX-512 kernel's register holds 64 codes) */
    static const uint32_t cfg[][3] = {{39, 300, 6}, {39, 37, 3}, {5, 17, 1},   {12, 20, 8},
                                      {70, 40, 6},  {3, 1, 0},   {20, 33, 10}, {64, 50, 5}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        rnd_model m;
        rnd_model_make(&m, cfg[c][0], cfg[c][1], cfg[c][2], 1000 + c);
        ASSERT_TRUE(m.g->fast != NULL);
        check_kernels(m.g, 77 * c + 1);
        rnd_model_free(&m);
    }
}

TEST(models_the_layout_cannot_hold_fall_back) {
    /* trees deeper than GBF_MAX_DEPTH */
    rnd_model m;
    rnd_model_make(&m, 10, 3, GBF_MAX_DEPTH + 1, 5);
    ASSERT_TRUE(m.g->trees[1].depth > GBF_MAX_DEPTH);
    ASSERT_TRUE(m.g->fast == NULL);
    leap_fbatch b;
    rnd_rows(m.g, 20, 9, 1, &b);
    double s[20], ref[20];
    ASSERT_TRUE(!leap__gbdt_fast_raw(m.g, &b, s, GB_KERNEL_SCALAR));
    leap__gbdt_raw_batch(m.g, &b, s);
    leap__gbdt_raw_batch_ref(m.g, &b, ref);
    ASSERT_TRUE(memcmp(s, ref, sizeof s) == 0);
    rows_free(&b);
    rnd_model_free(&m);
    /* an ordinal feature with more than 254 distinct thresholds */
    gbdt_model *g = NULL;
    memset(&m.fz, 0, sizeof m.fz);
    m.fz.fields = calloc(1, sizeof *m.fz.fields);
    m.fz.n_fields = 1;
    m.fz.fields[0].kind = LEAP_FZ_KIND_ORDINAL;
    m.fz.fields[0].card = 400;
    m.fz.n_buckets = 400;
    gbdt_opts o;
    leap_opts_defaults(&leap__gbdt_opt_table, &o);
    leap_err err = {0};
    ASSERT_OK(leap__gbdt_alloc(&o, &m.fz, &g, &err));
    ASSERT_OK(leap__gbdt_reserve(g, 300, 3, &err));
    for (uint32_t t = 0; t < 300; t++) { /* one split a tree at threshold t */
        uint32_t a = g->n_nodes;
        g->nodes[a] = (gb_node){a + 1, a + 2, t, 0, 0, 0, 0, 0};
        g->nodes[a + 1] = (gb_node){a + 1, a + 1, 0, 0, 0, 0, 1, 1.0f};
        g->nodes[a + 2] = (gb_node){a + 2, a + 2, 0, 0, 0, 0, 1, -1.0f};
        g->n_nodes += 3;
        g->trees[t] = (gb_tree){a, 3, 1};
    }
    g->n_trees = 300;
    leap__gbdt_fast_build(g);
    ASSERT_TRUE(g->fast == NULL);
    g->n_trees = 250; /* 250 thresholds: fits */
    g->n_nodes = 750;
    leap__gbdt_fast_build(g);
    ASSERT_TRUE(g->fast != NULL);
    check_kernels(g, 11);
    leap__gbdt_free(g);
    leap_featurizer_free(&m.fz);
    /* features whose index ranges overlap (codes are looked up by index) */
    rnd_model_make(&m, 4, 5, 3, 8);
    ASSERT_TRUE(m.g->fast != NULL);
    m.g->feat[1].offset = m.g->feat[0].offset;
    m.g->feat[1].card = m.g->feat[0].card;
    leap__gbdt_fast_build(m.g);
    ASSERT_TRUE(m.g->fast == NULL);
    rnd_model_free(&m);
}
