/* gbdt_internal.h — histogram gradient-boosted trees: private state shared by
 * gbdt.c (options, prediction, save/load, describe), gbdt_train.c (fit:
 * binning, histograms, split search, tree growth, boosting) and gbdt_lr.c
 * (trees + LR). Unit tests include it to check the split search and the
 * histograms against brute force.
 *
 * Feature layout: the model's features are the featurizer's ORDINAL and
 * CATEGORICAL fields (single-valued), in field order. A feature's local index
 * (idx - offset, in [0, card)) is 0 for missing. Training bins are uint8:
 * bin 0 = missing, 1..nbins-1 = values; a field with card <= max_bin + 1
 * keeps bin = local index; a wider ordinal field is coarsened monotonically,
 * a wider categorical field keeps categories 1..max_bin-1 and folds the rest
 * into bin max_bin ("other").
 *
 * Histograms hold fixed-point integer sums of gradient and hessian (see
 * gb_bin): integer addition is associative, so a histogram is the same bit
 * for bit whatever the thread count, the order of the rows, the subtraction
 * trick or the number of MPI ranks; every rank then takes the same split.
 */
#ifndef LEAP_GBDT_INTERNAL_H
#define LEAP_GBDT_INTERNAL_H

#include "leap/model.h"

#include <math.h>

enum { GB_DEPTHWISE, GB_LEAFWISE };
enum { GB_LOGISTIC, GB_SQUARED };
enum { GB_HIST_ROWS, GB_HIST_FEATURES };

#define GB_MAX_BIN      255  /* bins 0..255 fit a uint8 */
#define GB_CAT_WORDS    8    /* 256-bit category bitset per categorical split */
#define GB_MAX_FEATURES 4096 /* prediction decodes rows into a fixed stack block */
#define GB_MAX_DEPTH    16

typedef struct gbdt_opts {
    int trees;
    double learning_rate;
    int max_depth;  /* depthwise: levels; leafwise: 0 = unlimited */
    int num_leaves; /* leafwise: leaves per tree */
    int max_bin;    /* value bins per feature (missing has its own) */
    double min_child_weight, lambda_l2, lambda_l1, min_split_gain;
    double subsample, colsample;
    int growth; /* GB_DEPTHWISE, GB_LEAFWISE */
    int early_stopping_rounds;
    int max_cat_threshold; /* categories on the left side of a split at most */
    int max_cat_to_onehot; /* features with at most this many categories: one-vs-rest */
    int min_data_per_group;
    double cat_smooth, cat_l2;
    int cat_rank_splits; /* 1 = categoricals also split on their code order (frequency rank) */
    int objective;       /* GB_LOGISTIC, GB_SQUARED */
    int seed;
    int hist_parallel; /* GB_HIST_ROWS, GB_HIST_FEATURES */
} gbdt_opts;

/* The option definitions of gbdt, for an options struct holding a
 * gbdt_opts at offset B (gbdt's own table and gbdt_lr's share them), with
 * the defaults of lambda_l2 and cat_rank_splits given (each model's own,
 * chosen on validation splits: docs/PERFORMANCE.md; today both 300 and 1). */
/* clang-format off */
#define GB_OFF(B, f) ((B) + offsetof(gbdt_opts, f))
#define GBDT_OPT_DEFS(B, L2, RANK)                                                             \
    {"trees", LEAP_OPT_INT, GB_OFF(B, trees), 100, 1, 100000, NULL,                            \
     "boosting rounds (trees), at most"},                                                      \
    {"learning_rate", LEAP_OPT_FLOAT, GB_OFF(B, learning_rate), 0.1, 1e-6, 1, NULL,            \
     "shrinkage of each tree's output"},                                                       \
    {"max_depth", LEAP_OPT_INT, GB_OFF(B, max_depth), 6, 0, GB_MAX_DEPTH, NULL,                \
     "depthwise: levels of each tree; leafwise: depth limit (0 = none)"},                      \
    {"num_leaves", LEAP_OPT_INT, GB_OFF(B, num_leaves), 31, 2, 4096, NULL,                     \
     "leafwise: leaves of each tree"},                                                         \
    {"max_bin", LEAP_OPT_INT, GB_OFF(B, max_bin), 255, 2, GB_MAX_BIN, NULL,                    \
     "value bins per feature (wider ordinals are coarsened, rarer categories folded)"},        \
    {"min_child_weight", LEAP_OPT_FLOAT, GB_OFF(B, min_child_weight), 1, 0, 1e12, NULL,        \
     "least hessian sum of a child"},                                                          \
    {"lambda_l2", LEAP_OPT_FLOAT, GB_OFF(B, lambda_l2), L2, 0, 1e12, NULL,                     \
     "L2 penalty on leaf weights"},                                                            \
    {"lambda_l1", LEAP_OPT_FLOAT, GB_OFF(B, lambda_l1), 0, 0, 1e12, NULL,                      \
     "L1 penalty on leaf weights"},                                                            \
    {"min_split_gain", LEAP_OPT_FLOAT, GB_OFF(B, min_split_gain), 0, 0, 1e12, NULL,            \
     "least loss reduction of a split"},                                                       \
    {"subsample", LEAP_OPT_FLOAT, GB_OFF(B, subsample), 1, 1e-3, 1, NULL,                      \
     "fraction of rows each tree sees (from seed; per rank under MPI)"},                       \
    {"colsample", LEAP_OPT_FLOAT, GB_OFF(B, colsample), 1, 1e-3, 1, NULL,                      \
     "fraction of features each tree may split on (from seed)"},                               \
    {"growth", LEAP_OPT_ENUM, GB_OFF(B, growth), 0, 0, 1, "depthwise|leafwise",                \
     "level by level (XGBoost) or best leaf first (LightGBM)"},                                \
    {"early_stopping_rounds", LEAP_OPT_INT, GB_OFF(B, early_stopping_rounds), 0, 0,            \
     100000, NULL, "stop after this many trees without validation improvement (0 = off)"},     \
    {"max_cat_threshold", LEAP_OPT_INT, GB_OFF(B, max_cat_threshold), 32, 1, 255, NULL,        \
     "categorical split: categories on the searched side, at most"},                           \
    {"max_cat_to_onehot", LEAP_OPT_INT, GB_OFF(B, max_cat_to_onehot), 4, 1, 255, NULL,         \
     "categorical features with at most this many bins split one-vs-rest"},                    \
    {"min_data_per_group", LEAP_OPT_INT, GB_OFF(B, min_data_per_group), 100, 1,                \
     1000000000, NULL, "categorical split: least rows added between candidate partitions"},    \
    {"cat_smooth", LEAP_OPT_FLOAT, GB_OFF(B, cat_smooth), 100, 0, 1e12, NULL,                   \
     "categorical split: smoothing of the gradient/hessian ratio; rarer categories go right"}, \
    {"cat_l2", LEAP_OPT_FLOAT, GB_OFF(B, cat_l2), 100, 0, 1e12, NULL,                           \
     "categorical split: extra L2 in its gain"},                                               \
    {"cat_rank_splits", LEAP_OPT_INT, GB_OFF(B, cat_rank_splits), RANK, 0, 1, NULL,            \
     "categorical features also split as ordinals on their codes (a vocabulary's codes count " \
     "down by frequency: a frequency split)"},                                                 \
    {"objective", LEAP_OPT_ENUM, GB_OFF(B, objective), 0, 0, 1, "logistic|squared",            \
     "loss: logistic (log-odds scores) or squared error"},                                     \
    {"seed", LEAP_OPT_INT, GB_OFF(B, seed), 1, 0, 2147483647, NULL,                            \
     "seed of row and column sampling"},                                                       \
    {"hist_parallel", LEAP_OPT_ENUM, GB_OFF(B, hist_parallel), 1, 0, 1, "rows|features",       \
     "histogram threads split a node's rows or its features"}
/* clang-format on */

extern const leap_opt_table leap__gbdt_opt_table;

/* A model feature: one featurizer field. */
typedef struct gb_feature {
    uint32_t field;  /* featurizer field index */
    uint32_t offset; /* its first global index */
    uint32_t card;   /* local indices [0, card) */
    uint32_t nbins;  /* training bins [0, nbins), nbins <= max_bin + 1 */
    uint8_t cat;     /* 1 = categorical */
} gb_feature;

/* A tree node, flattened. Leaves point to themselves (left = right = self),
 * so a row descends exactly `depth` steps through any tree without branches
 * on "is this a leaf". Prediction nodes test local indices; the training
 * copies of the current tree test bins (same struct, same code). */
typedef struct gb_node {
    uint32_t left, right; /* absolute node indices */
    uint32_t thr;         /* ordinal: x <= thr goes left; categorical: first bitset word */
    uint32_t miss;        /* ordinal: x used for missing (0 = left, UINT32_MAX = right);
                             categorical: x is clamped to it (the folded "other" bin) */
    uint16_t feat;        /* model feature */
    uint8_t cat;          /* 1 = categorical split */
    uint8_t leaf;         /* 1 = leaf */
    float value;          /* leaf output (shrinkage included); 0 for splits */
} gb_node;

typedef struct gb_tree {
    uint32_t root;    /* index of its first node */
    uint32_t n_nodes; /* nodes [root, root + n_nodes) */
    uint32_t depth;   /* steps from the root to the deepest leaf */
} gb_tree;

typedef struct gb_fast gb_fast;

typedef struct gbdt_model {
    leap_model base;
    gbdt_opts o;
    uint32_t F;          /* features */
    gb_feature *feat;    /* [F] */
    size_t n_fields;     /* featurizer fields */
    int32_t *feat_of;    /* [n_fields] model feature of each field, -1 = not used */
    double base_score;   /* raw score before any tree (log-odds or mean) */
    uint32_t n_trees;    /* kept trees */
    gb_tree *trees;      /* [cap_trees] */
    gb_node *nodes;      /* [cap_nodes] */
    uint32_t *cat_words; /* [cap_words] bitsets of categorical splits */
    uint32_t n_nodes, n_words;
    uint32_t cap_trees, cap_nodes, cap_words;
    double *imp_gain;    /* [F] summed split gain over the kept trees */
    uint64_t *imp_split; /* [F] split count over the kept trees */
    int best_iter;       /* trees kept by early stopping (= n_trees) */
    double best_valid;   /* validation loss at best_iter; NaN without validation */
    gb_fast *fast;       /* scoring layout of the trees (gbdt_fast.c); NULL: not built,
                            or the model does not qualify (then the nodes are descended) */
} gbdt_model;

/* ---- gbdt.c -------------------------------------------------------------- */
/* Checks the featurizer layout and fills the feature table of g (opts set). */
int leap__gbdt_layout(gbdt_model *g, const leap_featurizer *fz, leap_err *err);
int leap__gbdt_alloc(const gbdt_opts *o, const leap_featurizer *fz, gbdt_model **out,
                     leap_err *err);
void leap__gbdt_free(gbdt_model *g);
/* Reserves room for `trees` trees of at most `nodes_per_tree` nodes. */
int leap__gbdt_reserve(gbdt_model *g, uint32_t trees, uint32_t nodes_per_tree, leap_err *err);
/* Local indices of row r of b into x[F] (0 = missing); entries of unused
 * fields or outside a field's range are ignored. */
void leap__gbdt_decode_row(const gbdt_model *g, const leap_fbatch *b, size_t r, uint32_t *x);
/* Raw scores (before the link) of every row of b. */
void leap__gbdt_raw_batch(const gbdt_model *g, const leap_fbatch *b, double *s);
/* For gbdt_lr: the leaf node reached in each tree by each row of b:
 * leaves[r * n_trees + t]. */
void leap__gbdt_leaves(const gbdt_model *g, const leap_fbatch *b, uint32_t *leaves);
int leap__gbdt_save(const gbdt_model *g, leap_buf *out, leap_err *err);
/* Parses a payload written by leap__gbdt_save; *used = bytes consumed. */
int leap__gbdt_parse(const gbdt_opts *o, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                     size_t *used, gbdt_model **out, leap_err *err);
void leap__gbdt_describe(const gbdt_model *g, const leap_featurizer *fz, FILE *f);
/* Fits g through io (gbdt_train.c); keep_batches = 0 lets the trainer drop
 * its batch cache (the trees read the data once); rows for which
 * gb_held_out(o, row, holdout) is true are kept out of every tree. */
int leap__gbdt_train(gbdt_model *g, leap_fit_io *io, int keep_batches, double holdout,
                     leap_err *err);
/* The same, with the rows of fold `fold` of `folds` (gb_fold) also kept out
 * of every tree (gbdt_lr's cross-fitted trees); folds < 2: none. */
int leap__gbdt_train_folds(gbdt_model *g, leap_fit_io *io, int keep_batches, double holdout,
                           int folds, int fold, leap_err *err);
/* Whether row (this rank's order) is held out of the trees: a fixed share
 * frac of the rows, from the seed (gbdt_lr trains its LR on them). */
static inline int gb_held_out(const gbdt_opts *o, uint64_t row, double frac) {
    if (frac <= 0) return 0;
    uint64_t cut = (uint64_t)(frac * 18446744073709551616.0);
    return leap_mix64((uint64_t)o->seed ^ 0x686f6c646f7574ULL, row) < cut;
}

/* The fold of row (this rank's order) among k folds, from the seed. */
static inline int gb_fold(const gbdt_opts *o, uint64_t row, int k) {
    uint64_t h = leap_mix64((uint64_t)o->seed ^ 0x666f6c6473ULL, row);
    return (int)(((unsigned __int128)h * (unsigned)k) >> 64);
}

/* Descends every tree of a node array for one row of x (x[feat] indexed). */
static inline uint32_t gb_step(const gb_node *nd, const uint32_t *words, const uint32_t *x) {
    /* Both tests are computed and one is selected (no branch on the node
     * kind, which a mix of ordinal and categorical splits makes
     * unpredictable). An ordinal node reads bitset word 0, which every model
     * has (gbdt.c keeps at least one word), and ignores it. */
    uint32_t v = x[nd->feat];
    uint32_t b = v < nd->miss ? v : nd->miss;
    uint32_t w = nd->cat ? nd->thr + (b >> 5) : 0;
    int lc = (int)((words[w] >> (b & 31)) & 1);
    int lo = (v ? v : nd->miss) <= nd->thr;
    return (nd->cat ? lc : lo) ? nd->left : nd->right;
}

/* Descends depth steps from node n for one row of x (x[feat] indexed). */
static inline uint32_t gb_descend(const gb_node *nodes, const uint32_t *words, uint32_t n,
                                  uint32_t depth, const uint32_t *x) {
    for (uint32_t d = 0; d < depth; d++)
        n = gb_step(&nodes[n], words, x);
    return n;
}

/* ---- gbdt_fast.c: the scoring layout ----------------------------------------- */
#define GBF_MAX_DEPTH 10 /* deeper trees are scored from the trained nodes */

/* Kernels that score through the layout; REF descends the trained nodes. */
enum { GB_KERNEL_REF, GB_KERNEL_SCALAR, GB_KERNEL_AVX2, GB_KERNEL_AVX512, GB_KERNEL_COUNT };

/* Complete trees of `depth` levels, in level order (children of node k:
 * 2k+1 left, 2k+2 right), and rows as one byte "code" per feature. */
struct gb_fast {
    uint32_t depth;      /* D: the deepest tree's depth; shallower trees are padded */
    uint32_t n_int;      /* 2^D - 1 inner nodes per tree */
    uint32_t *node;      /* [n_trees][n_int] packed tests (gbdt_fast.c: GBF_*) */
    float *leaf;         /* [n_trees][2^D] value of each leaf slot */
    uint32_t *leaf_node; /* [n_trees][2^D] trained node index of each leaf slot */
    uint8_t *code;       /* [feature space] code of each global index the features use */
    struct gb_fast_field {
        uint32_t feat, offset, card; /* model feature, its range; card 0: not used */
    } * fld;                         /* [n_fields] by featurizer field */
    int kernel; /* the fastest kernel this CPU runs: GB_KERNEL_SCALAR, _AVX2 or _AVX512 */
};

/* (Re)builds g->fast from the trained nodes; leaves it NULL when the model
 * does not qualify or memory is short (scoring then descends the nodes). Call
 * after the trees change (training, loading, hand-building). */
void leap__gbdt_fast_build(gbdt_model *g);
void leap__gbdt_fast_free(gbdt_model *g);
/* Whether this CPU runs kernel. */
int leap__gbdt_kernel_available(int kernel);
/* The kernel's name ("reference", "scalar", "avx2", "avx512"); "?" out of range. */
const char *leap__gbdt_kernel_name(int kernel);
/* Raw scores of b's rows through the layout with kernel; 0 (nothing
 * written) when there is no layout or the kernel cannot run here. Every
 * kernel gives the same bits as the reference descent. */
int leap__gbdt_fast_raw(const gbdt_model *g, const leap_fbatch *b, double *s, int kernel);
/* leap__gbdt_leaves through the layout; 0 when there is none. */
int leap__gbdt_fast_leaves(const gbdt_model *g, const leap_fbatch *b, uint32_t *leaves);
/* The reference: raw scores by descending the trained nodes. */
void leap__gbdt_raw_batch_ref(const gbdt_model *g, const leap_fbatch *b, double *s);

/* ---- gbdt_train.c -------------------------------------------------------- */
/* One histogram bin: sums of fixed-point gradients and hessians. */
typedef struct gb_bin {
    int64_t g, h;
} gb_bin;
/* One row's fixed-point gradient and hessian (|value| < 2^30). */
typedef struct gb_grad {
    int32_t g, h;
} gb_grad;

/* What the split search needs to know about a node and the options. */
typedef struct gb_split_ctx {
    const gbdt_opts *o;
    const gb_feature *feat; /* [F] */
    uint32_t F;
    const uint32_t *hoff;  /* [F + 1] first bin of each feature in a histogram */
    const uint8_t *fmask;  /* [F] 1 = feature may split (column sampling); NULL = all */
    double inv_sg, inv_sh; /* fixed point -> real: g = G * inv_sg, h = H * inv_sh */
} gb_split_ctx;

/* The best split of a node. */
typedef struct gb_split {
    double gain; /* score(L) + score(R) - score(node); <= 0: no split */
    int32_t feat;
    uint32_t thr;                /* ordinal: bins 1..thr go left */
    uint8_t cat, default_left;   /* categorical: bins in `bits` go left */
    uint32_t bits[GB_CAT_WORDS]; /* categorical: bins of the left side */
    int64_t lg, lh;              /* left side sums (fixed point) */
} gb_split;

/* Best split of a node from its histogram: sums (G, H), n rows (for the
 * category-count estimate). Deterministic: ties keep the first candidate in
 * the order (feature, missing right then left, threshold). */
void leap__gbdt_best_split(const gb_split_ctx *c, const gb_bin *hist, int64_t G, int64_t H,
                           double n, gb_split *out);
/* One feature's ordinal split scan (gbdt_scan.c): thresholds t = 1..nb-1
 * send bins 1..t left, bin 0 (missing) right and then left. Updates *best
 * and *out with the first candidate strictly above *best (a split on
 * feature f, thr t, default_left as chosen). Every kernel returns the
 * reference's bits. */
typedef struct gb_scan {
    uint32_t f, nb;
    int64_t G, H;
    double inv_sg, inv_sh, l1, l2, mcw, parent;
} gb_scan;
typedef void (*gb_scan_fn)(const gb_scan *s, const gb_bin *hb, double *best, gb_split *out);
enum { GB_SCAN_REF = 0, GB_SCAN_AVX512 = 1 };
void leap__gbdt_scan_ref(const gb_scan *s, const gb_bin *hb, double *best, gb_split *out);
/* the kernel, or NULL when this build or CPU lacks it */
gb_scan_fn leap__gbdt_scan_kernel(int kernel);
/* the fastest kernel this CPU runs */
void leap__gbdt_scan(const gb_scan *s, const gb_bin *hb, double *best, gb_split *out);

/* Split search runs on the pool for models of at least this many features
 * (GB_SEARCH_MIN_FEATURES); tests lower it to cover the parallel path. */
extern uint32_t leap__gbdt_search_min_features;

/* gbdt_lr's scores with the leaf terms summed by descending the trained nodes, not through the
 * scoring layout (tests compare the two: same bits). */
void leap__gblr_predict_ref(const leap_model *m, const leap_fbatch *b, float *p);

/* Objective of a side: T(g)^2 / (h + l2) (T: soft threshold by l1). */
static inline double gb_score(double g, double h, double l1, double l2) {
    double t = g > l1 ? g - l1 : (g < -l1 ? g + l1 : 0.0);
    return t * t / (h + l2);
}
static inline double gb_leaf_weight(double g, double h, double l1, double l2) {
    double t = g > l1 ? g - l1 : (g < -l1 ? g + l1 : 0.0);
    return -t / (h + l2);
}

/* Histogram of the rows rows[0..n) of a row-major bin matrix X (F bytes a
 * row) with fixed-point gradients gh: hist[hoff[f] + X[r*F + f]] += gh[r].
 * hist is cleared first. */
void leap__gbdt_hist_rows(const uint8_t *X, uint32_t F, const uint32_t *hoff, const gb_grad *gh,
                          const uint32_t *rows, size_t n, gb_bin *hist);

#endif
