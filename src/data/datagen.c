/* datagen.c — synthetic Criteo-format click logs drawn from a hidden truth,
 * with the true click probability of every row written beside them.
 *
 * What it does: writes rows "label \t I1..I13 \t C1..C26 \n" (empty field =
 * missing, categoricals as 8 lowercase hex digits, integers in decimal) and
 * OUTPUT.truth with one p per line ("%.9g"), both through leap_afile; then
 * scores the true p against the drawn labels with leap_metrics_compute, which
 * gives the Bayes-optimal logloss/AUC/NE no model can beat.
 * What it does not do: read data, print, or keep anything per category.
 *
 * ---- the hidden truth --------------------------------------------------------
 * logit(row) = G * (Σ numeric effects + Σ categorical effects + Σ pair terms) + bias
 * p = sigmoid(logit) (logit clamped to ±15), label ~ Bernoulli(p), G = 0.93.
 *
 * Categorical fields C1..C26 (table dg_cats): a universe of N_f categories with
 *   the cardinalities of the full Criteo Kaggle set (3 .. 10^7; at 1M rows the
 *   largest fields show 1-3 × 10^5 distinct values, more as rows grow) and its
 *   missing rates (0, 3.4%, 12%, 44%, 76%). The category rank k in [0, N_f) is
 *   Zipf-like with exponent s_f in [1.05, 1.3]: k = floor(x) - 1 with x drawn
 *   by inverting the CDF of the continuous density x^-s on [1, N_f + 1). Fields
 *   up to 2^16 categories look k up in a guide table of that same CDF (O(1)
 *   expected, cheaper than pow); larger ones invert with one pow(), no per-
 *   category table. The
 *   written id is a per-field, per-seed bijective 32-bit mix of k, so distinct
 *   categories never share a string and rank is invisible in the id.
 *   Effect of category k: sigma_f * scale(k) * z(seed, f, k), z ≈ N(0, 1) from a
 *   hash (Irwin–Hall sum of four 16-bit uniforms, bounded at ±3.46), and
 *   scale(k) = 0.25 + 0.75 / sqrt(1 + k / 32): the head carries the signal, the
 *   long tail keeps a quarter of it (rare ids are noise-like but not useless).
 *   A missing value has its own effect (0.7 sigma_f z(seed, f, missing)).
 * Numeric fields I1..I13 (table dg_nums): with probability miss missing; else
 *   with probability neg (I2 only) -1/-2/-3; else with probability zero 0; else
 *   floor(scale * e^(rho a) * ((1-u)^(-1/alpha) - 1)) — Lomax (Pareto II) counts
 *   with heavy tails, capped at 2^31 - 1. a ~ N(0, 1) is one "activity" draw
 *   per row shared by all numerics, so they are positively correlated, as in
 *   Criteo. Medians, zero and missing rates follow a real Criteo sample.
 *   Effect with t = log(1 + x): bump_a * exp(-((t - bump_c) / bump_w)^2 / 2)
 *   + sat_b * tanh(t / sat_s); a missing value has miss_eff, a negative one
 *   neg_eff. Bumps in log(x) and early saturation mean log-bucketing helps
 *   and a linear term in raw x captures little.
 * Interactions (table dg_pairs): for 8 field pairs (6 categorical×categorical,
 *   2 log2-bucketed numeric × categorical) lambda/2 * <v_a, v_b>, where v is a
 *   4-dim latent vector of the field's value (components uniform with variance
 *   1 from one hash, times scale(k) for categories); 0 if either is missing.
 *   Structure FM/FFM/deep models can learn and plain LR cannot.
 * Bias: solved by bisection so that the mean of p over 32768 pilot rows (own
 *   stream of the seed) equals the target CTR; mean CTR lands within ~±0.005.
 * With these tables, at CTR 0.25 and 1M rows: Bayes AUC ≈ 0.82, logloss ≈ 0.43
 *   (NE ≈ 0.76). Most of the signal is in learnable main effects: a one-pass
 *   hashed LR (log-bucketed integers) reaches AUC ≈ 0.80 on a 20% holdout;
 *   without the pair terms the Bayes AUC would be ≈ 0.81 (LR unchanged), so
 *   about one point of the gap is interaction structure, the rest is the
 *   unlearnable tail and estimation noise.
 *
 * Determinism: row r draws from the splitmix stream seeded with
 * mix(seed, r) in a fixed order; rows are made in blocks of DG_BLOCK_ROWS and
 * written in block order, so the bytes do not depend on the thread count.
 * Each wave of leap_parallel_for runs one writer task (the previous wave's
 * blocks, in order) beside the generator tasks of the current wave.
 */
#include "leap/datagen.h"

#include "leap/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    DG_NUM = LEAP_DATAGEN_NUM_FIELDS,
    DG_CAT = LEAP_DATAGEN_CAT_FIELDS,
    DG_LATENT = 4,
    DG_NUM_TABLE = 1024, /* numeric effects tabulated for x in [0, 1024) */
    DG_PILOT_ROWS = 32768,
    DG_GUIDE_MAX_CARD = 1 << 16, /* fields up to this size sample from a table */
    DG_BLOCK_ROWS = 4096,
    /* label + 13 × (tab + up to 10 digits or "-3") + 26 × (tab + 8 hex) + newline */
    DG_ROW_MAX = 1 + DG_NUM * 11 + DG_CAT * 9 + 1,
    DG_TRUTH_MAX = 32, /* "%.9g\n" of a float in (0, 1) takes at most 15 */
};

#define DG_LOGIT_CLAMP 15.0
#define DG_STRENGTH    0.93 /* G: sets the Bayes AUC near 0.82 */
#define DG_SQRT3       1.7320508075688772

/* ---- the truth tables ---------------------------------------------------------- */
typedef struct dg_cat_spec {
    uint32_t card; /* universe size N_f */
    float miss;    /* missing rate */
    float zipf_s;  /* Zipf exponent */
    float sigma;   /* effect scale of the head */
} dg_cat_spec;

static const dg_cat_spec dg_cats[] = {
    /* card, miss, zipf_s, sigma */
    {1460, 0.f, 1.15f, 0.40f},        /* C1 */
    {583, 0.f, 1.10f, 0.45f},         /* C2 */
    {10131227, 0.034f, 1.05f, 0.30f}, /* C3 */
    {2202608, 0.034f, 1.05f, 0.30f},  /* C4 */
    {305, 0.f, 1.25f, 0.40f},         /* C5 */
    {24, 0.123f, 1.25f, 0.30f},       /* C6 */
    {12517, 0.f, 1.10f, 0.40f},       /* C7 */
    {633, 0.f, 1.20f, 0.25f},         /* C8 */
    {3, 0.f, 1.30f, 0.20f},           /* C9 */
    {93145, 0.f, 1.10f, 0.35f},       /* C10 */
    {5683, 0.f, 1.10f, 0.40f},        /* C11 */
    {8351593, 0.034f, 1.05f, 0.30f},  /* C12 */
    {3194, 0.f, 1.10f, 0.35f},        /* C13 */
    {27, 0.f, 1.25f, 0.50f},          /* C14 */
    {14992, 0.f, 1.10f, 0.30f},       /* C15 */
    {5461306, 0.034f, 1.05f, 0.30f},  /* C16 */
    {10, 0.f, 1.30f, 0.40f},          /* C17 */
    {5652, 0.f, 1.10f, 0.35f},        /* C18 */
    {2173, 0.44f, 1.15f, 0.25f},      /* C19 */
    {4, 0.44f, 1.30f, 0.25f},         /* C20 */
    {7046547, 0.034f, 1.05f, 0.30f},  /* C21 */
    {18, 0.765f, 1.30f, 0.20f},       /* C22 */
    {15, 0.f, 1.25f, 0.45f},          /* C23 */
    {286181, 0.034f, 1.08f, 0.30f},   /* C24 */
    {105, 0.44f, 1.20f, 0.30f},       /* C25 */
    {142572, 0.44f, 1.08f, 0.25f},    /* C26 */
};
_Static_assert(sizeof dg_cats / sizeof dg_cats[0] == DG_CAT, "one row per categorical field");

typedef struct dg_num_spec {
    float miss, neg, zero;        /* rates, applied in this order */
    float scale, alpha;           /* Lomax counts */
    int rho10;                    /* activity coupling rho, in tenths (0..7) */
    float bump_a, bump_c, bump_w; /* bump in t = log(1 + x) */
    float sat_b, sat_s;           /* saturation sat_b * tanh(t / sat_s) */
    float miss_eff, neg_eff;
} dg_num_spec;

static const dg_num_spec dg_nums[] = {
    /* miss   neg  zero scale alpha rho10 bump_a bump_c bump_w sat_b sat_s miss_eff neg_eff */
    {0.457f, 0.f, 0.1f, 2.5f, 1.5f, 5, 0.5f, 1.0f, 0.6f, -0.4f, 1.5f, -0.1f, 0.f},  /* I1 */
    {0.f, 0.105f, 0.f, 4.f, 1.3f, 4, -0.4f, 3.0f, 1.0f, 0.3f, 2.f, 0.f, 0.4f},      /* I2 */
    {0.214f, 0.f, 0.f, 9.f, 1.4f, 5, 0.4f, 2.0f, 0.8f, -0.5f, 3.f, 0.2f, 0.f},      /* I3 */
    {0.223f, 0.f, 0.f, 16.f, 3.f, 5, 0.3f, 1.5f, 0.5f, 0.4f, 2.f, -0.2f, 0.f},      /* I4 */
    {0.023f, 0.f, 0.02f, 4400.f, 1.4f, 3, -0.5f, 8.0f, 1.2f, 0.3f, 4.f, 0.3f, 0.f}, /* I5 */
    {0.226f, 0.f, 0.07f, 53.f, 1.5f, 5, 0.4f, 3.5f, 0.8f, -0.6f, 3.f, 0.1f, 0.f},   /* I6 */
    {0.044f, 0.f, 0.05f, 6.f, 1.2f, 6, 0.5f, 1.2f, 0.7f, 0.6f, 2.f, -0.3f, 0.f},    /* I7 */
    {0.0005f, 0.f, 0.f, 27.f, 3.f, 3, -0.3f, 2.2f, 0.6f, 0.2f, 2.f, 0.f, 0.f},      /* I8 */
    {0.044f, 0.f, 0.03f, 70.f, 1.6f, 5, 0.3f, 4.0f, 1.0f, -0.3f, 3.f, 0.2f, 0.f},   /* I9 */
    {0.457f, 0.f, 0.25f, 5.f, 3.f, 3, 0.4f, 0.7f, 0.4f, 0.5f, 1.f, -0.2f, 0.f},     /* I10 */
    {0.044f, 0.f, 0.f, 3.f, 2.f, 6, 0.6f, 1.0f, 0.5f, 0.4f, 1.5f, -0.2f, 0.f},      /* I11 */
    {0.768f, 0.f, 0.55f, 1.5f, 2.f, 4, 0.3f, 0.7f, 0.4f, 0.3f, 1.f, 0.f, 0.f},      /* I12 */
    {0.223f, 0.f, 0.f, 13.f, 2.5f, 5, -0.3f, 2.0f, 0.6f, -0.4f, 2.5f, 0.1f, 0.f},   /* I13 */
};
_Static_assert(sizeof dg_nums / sizeof dg_nums[0] == DG_NUM, "one row per numeric field");

/* Columns as in the file after the label: 0..12 = I1..I13, 13..38 = C1..C26. */
#define DG_I(n) ((n)-1)
#define DG_C(n) (DG_NUM + (n)-1)
typedef struct dg_pair {
    int a, b;     /* columns */
    float lambda; /* the term lambda/2 * <v_a, v_b> has std ≈ lambda at the head */
} dg_pair;

static const dg_pair dg_pairs[] = {
    {DG_C(1), DG_C(14), 0.27f}, {DG_C(2), DG_C(23), 0.27f}, {DG_C(5), DG_C(17), 0.24f},
    {DG_C(7), DG_C(11), 0.21f}, {DG_C(13), DG_C(6), 0.21f}, {DG_C(10), DG_C(18), 0.18f},
    {DG_I(6), DG_C(2), 0.21f},  {DG_I(5), DG_C(23), 0.21f},
};
enum { DG_PAIRS = sizeof dg_pairs / sizeof dg_pairs[0] };

/* ---- the model derived from the seed --------------------------------------------- */
typedef struct dg_model {
    double strength; /* G */
    double bias;
    uint64_t row_key, pilot_key;
    struct {
        double c, e;     /* Zipf inversion: x = (1 - u c)^e */
        double *cum;     /* [card] or NULL: P(rank <= k), for small fields */
        uint32_t *guide; /* [card]: guide[i] = first k with cum[k] > i / card */
        double miss_eff;
        uint64_t eff_key, lat_key;
        uint32_t perm1, perm2;
    } cat[DG_CAT];
    struct {
        uint64_t lat_key;
        double inv_alpha;
        double table[DG_NUM_TABLE]; /* effect of x for x in [0, DG_NUM_TABLE) */
    } num[DG_NUM];
} dg_model;

/* One row's values. */
typedef struct dg_row {
    int64_t ival[DG_NUM];
    uint32_t ck[DG_CAT]; /* category rank */
    uint8_t imiss[DG_NUM], cmiss[DG_CAT];
} dg_row;

/* Approximately N(0, 1) from 64 hash bits: Irwin–Hall sum of four 16-bit uniforms. */
static inline double dg_gauss(uint64_t h) {
    double s = (double)(h & 0xffff) + (double)((h >> 16) & 0xffff) + (double)((h >> 32) & 0xffff) +
               (double)(h >> 48);
    return ((s + 2.0) * (1.0 / 65536.0) - 2.0) * DG_SQRT3;
}

/* Four uniform components with mean 0 and variance 1, times scale. */
static inline void dg_latent(uint64_t h, double scale, double v[DG_LATENT]) {
    for (int j = 0; j < DG_LATENT; j++)
        v[j] = (((double)((h >> (16 * j)) & 0xffff) + 0.5) * (1.0 / 65536.0) - 0.5) *
               (2.0 * DG_SQRT3) * scale;
}

static inline double dg_cat_scale(uint32_t k) { return 0.25 + 0.75 / sqrt(1.0 + k / 32.0); }

/* A bijection of 32-bit values keyed by (k1, k2): every step is invertible. */
static inline uint32_t dg_perm32(uint32_t x, uint32_t k1, uint32_t k2) {
    x ^= k1;
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    x += k2;
    x ^= x >> 13;
    x *= 0xc2b2ae35U;
    x ^= x >> 16;
    return x;
}

static double dg_num_effect(const dg_num_spec *s, double x) {
    double t = log1p(x), d = (t - s->bump_c) / s->bump_w;
    return s->bump_a * exp(-0.5 * d * d) + s->sat_b * tanh(t / s->sat_s);
}

static void dg_model_free(dg_model *m) {
    if (!m) return;
    for (int f = 0; f < DG_CAT; f++) {
        free(m->cat[f].cum);
        free(m->cat[f].guide);
    }
    free(m);
}

/* Fills m from seed; LEAP_ENOMEM when the small fields' tables do not fit. */
static int dg_model_init(dg_model *m, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->strength = DG_STRENGTH;
    m->row_key = leap_mix64(seed, 0x5000);
    m->pilot_key = leap_mix64(seed, 0x6000);
    for (int f = 0; f < DG_CAT; f++) {
        const dg_cat_spec *s = &dg_cats[f];
        double one_s = 1.0 - s->zipf_s;
        m->cat[f].c = 1.0 - pow((double)s->card + 1.0, one_s);
        m->cat[f].e = 1.0 / one_s;
        if (s->card <= DG_GUIDE_MAX_CARD) {
            /* The same inversion as the pow() path, tabulated: rank k is drawn
             * when F(k + 1) <= u < F(k + 2), F(x) = (1 - x^(1-s)) / c. */
            uint32_t n = s->card;
            double *cum = malloc(n * sizeof *cum);
            uint32_t *guide = malloc(n * sizeof *guide);
            m->cat[f].cum = cum;
            m->cat[f].guide = guide;
            if (!cum || !guide) return LEAP_ENOMEM;
            for (uint32_t k = 0; k + 1 < n; k++)
                cum[k] = (1.0 - pow((double)k + 2.0, one_s)) / m->cat[f].c;
            cum[n - 1] = 2.0; /* above any u in [0, 1) */
            uint32_t k = 0;
            for (uint32_t i = 0; i < n; i++) {
                while (cum[k] <= (double)i / n)
                    k++;
                guide[i] = k;
            }
        }
        m->cat[f].eff_key = leap_mix64(seed, 0x1000 + (uint64_t)f);
        m->cat[f].lat_key = leap_mix64(seed, 0x2000 + (uint64_t)f);
        uint64_t pk = leap_mix64(seed, 0x3000 + (uint64_t)f);
        m->cat[f].perm1 = (uint32_t)pk;
        m->cat[f].perm2 = (uint32_t)(pk >> 32);
        /* ranks are < 2^32, so key 2^40 never collides with a category */
        m->cat[f].miss_eff = 0.7 * s->sigma * dg_gauss(leap_mix64(m->cat[f].eff_key, 1ULL << 40));
    }
    for (int f = 0; f < DG_NUM; f++) {
        m->num[f].lat_key = leap_mix64(seed, 0x4000 + (uint64_t)f);
        m->num[f].inv_alpha = 1.0 / dg_nums[f].alpha;
        for (int x = 0; x < DG_NUM_TABLE; x++)
            m->num[f].table[x] = dg_num_effect(&dg_nums[f], (double)x);
    }
    return LEAP_OK;
}

/* Draws one row from the stream rng and returns its logit without the bias.
 * The draw order is fixed: activity (2), each numeric (3), each categorical (2). */
static double dg_row_draw(const dg_model *m, leap_rng *rng, dg_row *row) {
    double u1 = 1.0 - leap_rng_uniform(rng), u2 = leap_rng_uniform(rng);
    double act = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double act_pow[8]; /* e^(rho act) for rho = i / 10 */
    act_pow[0] = 1.0;
    act_pow[1] = exp(0.1 * act);
    for (int i = 2; i < 8; i++)
        act_pow[i] = act_pow[i - 1] * act_pow[1];
    double z = 0.0;
    for (int f = 0; f < DG_NUM; f++) {
        const dg_num_spec *s = &dg_nums[f];
        double um = leap_rng_uniform(rng), uk = leap_rng_uniform(rng), uv = leap_rng_uniform(rng);
        row->imiss[f] = um < s->miss;
        if (row->imiss[f]) {
            z += s->miss_eff;
            continue;
        }
        int64_t x;
        if (uk < s->neg) {
            x = uv < 0.8 ? -1 : uv < 0.95 ? -2 : -3;
        } else if (uk < s->neg + s->zero) {
            x = 0;
        } else {
            double y = s->scale * act_pow[s->rho10] * (pow(1.0 - uv, -m->num[f].inv_alpha) - 1.0);
            x = y >= 2147483647.0 ? 2147483647 : (int64_t)y;
        }
        row->ival[f] = x;
        if (x < 0)
            z += s->neg_eff;
        else if (x < DG_NUM_TABLE)
            z += m->num[f].table[x];
        else
            z += dg_num_effect(s, (double)x);
    }
    for (int f = 0; f < DG_CAT; f++) {
        const dg_cat_spec *s = &dg_cats[f];
        double um = leap_rng_uniform(rng), uz = leap_rng_uniform(rng);
        row->cmiss[f] = um < s->miss;
        if (row->cmiss[f]) {
            z += m->cat[f].miss_eff;
            continue;
        }
        uint64_t k;
        if (m->cat[f].cum) {
            const double *cum = m->cat[f].cum;
            k = m->cat[f].guide[(uint32_t)(uz * s->card)];
            while (uz >= cum[k])
                k++;
        } else {
            double x = pow(1.0 - uz * m->cat[f].c, m->cat[f].e);
            k = x >= (double)s->card + 1.0 ? s->card - 1 : (uint64_t)x - 1;
            if (k >= s->card) k = s->card - 1;
        }
        row->ck[f] = (uint32_t)k;
        z += s->sigma * dg_cat_scale((uint32_t)k) * dg_gauss(leap_mix64(m->cat[f].eff_key, k));
    }
    for (int i = 0; i < DG_PAIRS; i++) {
        double va[DG_LATENT], vb[DG_LATENT];
        int cols[2] = {dg_pairs[i].a, dg_pairs[i].b};
        double *vs[2] = {va, vb};
        int missing = 0;
        for (int j = 0; j < 2; j++) {
            int c = cols[j];
            if (c < DG_NUM) {
                if (row->imiss[c]) {
                    missing = 1;
                    break;
                }
                int64_t x = row->ival[c];
                uint64_t bucket = x <= 0 ? 0 : (uint64_t)(64 - __builtin_clzll((uint64_t)x));
                dg_latent(leap_mix64(m->num[c].lat_key, bucket), 1.0, vs[j]);
            } else {
                int f = c - DG_NUM;
                if (row->cmiss[f]) {
                    missing = 1;
                    break;
                }
                dg_latent(leap_mix64(m->cat[f].lat_key, row->ck[f]), dg_cat_scale(row->ck[f]),
                          vs[j]);
            }
        }
        if (missing) continue;
        double dot = 0.0;
        for (int j = 0; j < DG_LATENT; j++)
            dot += va[j] * vb[j];
        z += 0.5 * dg_pairs[i].lambda * dot;
    }
    return m->strength * z;
}

static inline float dg_prob(double logit) {
    if (logit > DG_LOGIT_CLAMP) logit = DG_LOGIT_CLAMP;
    if (logit < -DG_LOGIT_CLAMP) logit = -DG_LOGIT_CLAMP;
    return (float)(1.0 / (1.0 + exp(-logit)));
}

/* Bias so that the mean p over the pilot rows equals ctr (bisection; the mean
 * is increasing in the bias). Needs DG_PILOT_ROWS doubles of scratch. */
static int dg_solve_bias(dg_model *m, double ctr) {
    double *z = malloc(DG_PILOT_ROWS * sizeof *z);
    if (!z) return LEAP_ENOMEM;
    dg_row row;
    for (size_t i = 0; i < DG_PILOT_ROWS; i++) {
        leap_rng rng = {leap_mix64(m->pilot_key, i)};
        z[i] = dg_row_draw(m, &rng, &row);
    }
    double lo = -30.0, hi = 30.0;
    for (int it = 0; it < 50; it++) {
        double mid = 0.5 * (lo + hi), s = 0.0;
        for (size_t i = 0; i < DG_PILOT_ROWS; i++)
            s += (double)dg_prob(z[i] + mid);
        if (s / DG_PILOT_ROWS < ctr)
            lo = mid;
        else
            hi = mid;
    }
    m->bias = 0.5 * (lo + hi);
    free(z);
    return LEAP_OK;
}

/* ---- formatting (by hand: no printf per field) ------------------------------------ */
static inline char *dg_put_int(char *s, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *s++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *s++ = tmp[--n];
    return s;
}

static inline char *dg_put_hex8(char *s, uint32_t v) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        s[i] = hex[(v >> (28 - 4 * i)) & 15];
    return s + 8;
}

/* Writes p and a newline exactly as printf("%.9g\n") does (C locale), without
 * printf: for p in [1e-7, 1) the float is m / 2^sh (m < 2^24, sh <= 48), so
 * p * 10^k = m * 5^k / 2^(sh - k) is an integer division with an exact
 * remainder for round-half-even. Other values (never drawn) use snprintf. */
static char *dg_put_prob(char *s, float pf) {
    static const uint64_t pow5[17] = {
        1ULL,         5ULL,          25ULL,         125ULL,         625ULL,         3125ULL,
        15625ULL,     78125ULL,      390625ULL,     1953125ULL,     9765625ULL,     48828125ULL,
        244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL};
    double p = (double)pf;
    if (!(p >= 1e-7 && p < 1.0)) return s + snprintf(s, DG_TRUTH_MAX, "%.9g\n", p);
    int e2;
    double fr = frexp(p, &e2); /* p = fr * 2^e2, fr in [0.5, 1) */
    uint64_t mant = (uint64_t)ldexp(fr, 24);
    int sh = 24 - e2; /* p = mant / 2^sh, 25 <= sh <= 48 */
    int k = 8 - (int)floor(log10(p)), tries = 0;
    uint64_t d = 0, rem = 0, half = 0;
    for (;;) { /* k such that p * 10^k is in [1e8, 1e9): 9 significant digits */
        if (k < 8) k = 8;
        if (k > 16) k = 16;
        int bits = sh - k; /* >= 9 */
        uint64_t n = mant * pow5[k];
        d = n >> bits;
        rem = n & ((1ULL << bits) - 1);
        half = 1ULL << (bits - 1);
        if (++tries > 3) break;
        if (d < 100000000ULL)
            k++;
        else if (d >= 1000000000ULL)
            k--;
        else
            break;
    }
    if (rem > half || (rem == half && (d & 1))) d++;
    if (d == 1000000000ULL) {
        d = 100000000ULL;
        k--;
    }
    int x10 = 8 - k; /* decimal exponent of the leading digit, -7..-1 */
    char dig[9];
    for (int i = 8; i >= 0; i--, d /= 10)
        dig[i] = (char)('0' + d % 10);
    int nd = 9;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (x10 < -4) {
        *s++ = dig[0];
        if (nd > 1) {
            *s++ = '.';
            for (int i = 1; i < nd; i++)
                *s++ = dig[i];
        }
        *s++ = 'e';
        *s++ = '-';
        *s++ = (char)('0' + (-x10) / 10);
        *s++ = (char)('0' + (-x10) % 10);
    } else {
        *s++ = '0';
        *s++ = '.';
        for (int i = 0; i < -x10 - 1; i++)
            *s++ = '0';
        for (int i = 0; i < nd; i++)
            *s++ = dig[i];
    }
    *s++ = '\n';
    return s;
}

/* ---- blocks, waves, writing ------------------------------------------------------- */
typedef struct dg_block {
    char *text;  /* [DG_BLOCK_ROWS * DG_ROW_MAX] rows of the block */
    char *truth; /* [DG_BLOCK_ROWS * DG_TRUTH_MAX] one p per line */
    size_t text_len, truth_len;
} dg_block;

typedef struct dg_job {
    const dg_model *m;
    uint64_t rows;
    size_t n_blocks, wave_blocks; /* blocks in all; per wave */
    size_t wave;                  /* the wave being generated */
    float *p, *y;                 /* [rows] true p, label */
    dg_block *bufs;               /* [2][wave_blocks]: wave w uses set w & 1 */
    leap_afile *data, *truth;
    uint64_t bytes;
    leap_err *err; /* written by the writer task only */
} dg_job;

static void dg_gen_block(const dg_job *j, size_t block, dg_block *b) {
    uint64_t r0 = (uint64_t)block * DG_BLOCK_ROWS, r1 = r0 + DG_BLOCK_ROWS;
    if (r1 > j->rows) r1 = j->rows;
    char *s = b->text, *t = b->truth;
    dg_row row;
    for (uint64_t r = r0; r < r1; r++) {
        leap_rng rng = {leap_mix64(j->m->row_key, r)};
        double z = dg_row_draw(j->m, &rng, &row);
        float p = dg_prob(z + j->m->bias);
        int label = leap_rng_uniform(&rng) < (double)p;
        j->p[r] = p;
        j->y[r] = (float)label;
        *s++ = (char)('0' + label);
        for (int f = 0; f < DG_NUM; f++) {
            *s++ = '\t';
            if (!row.imiss[f]) s = dg_put_int(s, row.ival[f]);
        }
        for (int f = 0; f < DG_CAT; f++) {
            *s++ = '\t';
            if (!row.cmiss[f])
                s = dg_put_hex8(s, dg_perm32(row.ck[f], j->m->cat[f].perm1, j->m->cat[f].perm2));
        }
        *s++ = '\n';
        t = dg_put_prob(t, p);
    }
    b->text_len = (size_t)(s - b->text);
    b->truth_len = (size_t)(t - b->truth);
}

static int dg_write_blocks(dg_job *j, size_t wave) {
    size_t first = wave * j->wave_blocks;
    dg_block *set = j->bufs + (wave & 1) * j->wave_blocks;
    for (size_t i = 0; i < j->wave_blocks && first + i < j->n_blocks; i++) {
        dg_block *b = &set[i];
        if (fwrite(b->text, 1, b->text_len, j->data->fp) != b->text_len)
            return leap_err_set(j->err, LEAP_EIO, "%s: write failed", j->data->path);
        if (fwrite(b->truth, 1, b->truth_len, j->truth->fp) != b->truth_len)
            return leap_err_set(j->err, LEAP_EIO, "%s: write failed", j->truth->path);
        j->bytes += b->text_len + b->truth_len;
    }
    return LEAP_OK;
}

/* Task 0 writes the previous wave; task i > 0 generates block i - 1 of this wave. */
static int dg_task(void *ctx, size_t task, int thread) {
    dg_job *j = ctx;
    if (task == 0) return j->wave > 0 ? dg_write_blocks(j, j->wave - 1) : LEAP_OK;
    size_t block = j->wave * j->wave_blocks + task - 1;
    dg_gen_block(j, block, &j->bufs[(j->wave & 1) * j->wave_blocks + task - 1]);
    return LEAP_OK;
}

/* ---- public --------------------------------------------------------------------- */
double leap_datagen_missing_rate(int column) {
    if (column >= 1 && column <= DG_NUM) return dg_nums[column - 1].miss;
    if (column > DG_NUM && column <= DG_NUM + DG_CAT) return dg_cats[column - DG_NUM - 1].miss;
    return -1.0;
}

int leap_datagen_check(const leap_datagen_opts *o, leap_err *err) {
    if (o->rows < 1 || o->rows > LEAP_DATAGEN_MAX_ROWS)
        return leap_err_set(err, LEAP_EINVAL, "rows: %llu outside [1, %llu]",
                            (unsigned long long)o->rows, (unsigned long long)LEAP_DATAGEN_MAX_ROWS);
    if (!o->output || !o->output[0]) return leap_err_set(err, LEAP_EINVAL, "output: no path given");
    if (o->threads < 0)
        return leap_err_set(err, LEAP_EINVAL, "threads: %d is negative", o->threads);
    if (o->base_ctr != 0.0 && !(o->base_ctr >= 0.001 && o->base_ctr <= 0.999))
        return leap_err_set(err, LEAP_EINVAL, "ctr: %g outside [0.001, 0.999]", o->base_ctr);
    return LEAP_OK;
}

int leap_datagen(const leap_datagen_opts *o, leap_datagen_report *rep, leap_err *err) {
    double t0 = leap_now();
    int rc = leap_datagen_check(o, err);
    if (rc != LEAP_OK) return rc;
    double ctr = o->base_ctr != 0.0 ? o->base_ctr : LEAP_DATAGEN_DEFAULT_CTR;
    int threads = o->threads > 0 ? o->threads : leap_num_cpus();

    leap_err werr = {0}; /* the writer task's error */
    dg_job j = {.rows = o->rows, .err = &werr};
    j.n_blocks = (size_t)((o->rows + DG_BLOCK_ROWS - 1) / DG_BLOCK_ROWS);
    j.wave_blocks = (size_t)threads * 2;
    if (j.wave_blocks > j.n_blocks) j.wave_blocks = j.n_blocks;

    dg_model *m = calloc(1, sizeof *m);
    leap_afile data = {0}, truth = {0};
    char truth_path[4096];
    j.p = malloc((size_t)o->rows * sizeof *j.p);
    j.y = malloc((size_t)o->rows * sizeof *j.y);
    j.bufs = calloc(2 * j.wave_blocks, sizeof *j.bufs);
    if (!m || !j.p || !j.y || !j.bufs) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory for %llu rows (8 bytes/row)",
                          (unsigned long long)o->rows);
        goto done;
    }
    for (size_t i = 0; i < 2 * j.wave_blocks; i++) {
        j.bufs[i].text = malloc((size_t)DG_BLOCK_ROWS * DG_ROW_MAX);
        j.bufs[i].truth = malloc((size_t)DG_BLOCK_ROWS * DG_TRUTH_MAX);
        if (!j.bufs[i].text || !j.bufs[i].truth) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory for block buffers");
            goto done;
        }
    }
    if ((rc = dg_model_init(m, o->seed)) != LEAP_OK || (rc = dg_solve_bias(m, ctr)) != LEAP_OK) {
        leap_err_set(err, rc, "out of memory");
        goto done;
    }
    j.m = m;

    if (snprintf(truth_path, sizeof truth_path, "%s.truth", o->output) >= (int)sizeof truth_path) {
        rc = leap_err_set(err, LEAP_EINVAL, "%s: path too long", o->output);
        goto done;
    }
    if ((rc = leap_afile_open(&data, o->output, err)) != LEAP_OK) goto done;
    if ((rc = leap_afile_open(&truth, truth_path, err)) != LEAP_OK) goto done;
    j.data = &data;
    j.truth = &truth;

    leap_progress pg;
    if (o->progress) leap_progress_init(&pg, "datagen");
    size_t n_waves = (j.n_blocks + j.wave_blocks - 1) / j.wave_blocks;
    for (size_t w = 0; w <= n_waves; w++) {
        size_t gen = 0;
        if (w < n_waves) {
            gen = j.n_blocks - w * j.wave_blocks;
            if (gen > j.wave_blocks) gen = j.wave_blocks;
        }
        j.wave = w;
        rc = leap_parallel_for(threads, 1 + gen, dg_task, &j);
        if (rc != LEAP_OK) {
            if (werr.status != LEAP_OK) {
                if (err) *err = werr;
            } else {
                leap_err_set(err, rc, "generating rows: %s", leap_strerror(rc));
            }
            goto done;
        }
        if (o->progress) {
            double done_rows = (double)(w * j.wave_blocks) * DG_BLOCK_ROWS;
            leap_progress_update(&pg, done_rows < (double)o->rows ? done_rows : (double)o->rows,
                                 (double)o->rows, NULL);
        }
    }
    if (o->progress) leap_progress_end(&pg);

    if ((rc = leap_afile_commit(&data, err)) != LEAP_OK) goto done;
    if ((rc = leap_afile_commit(&truth, err)) != LEAP_OK) {
        unlink(o->output); /* never leave rows without their truth */
        goto done;
    }

    leap_metrics met;
    if ((rc = leap_metrics_compute(j.p, j.y, NULL, (size_t)o->rows, &met, err)) != LEAP_OK)
        goto done;
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->rows = o->rows;
        rep->ctr = met.base_rate;
        rep->bayes_logloss = met.logloss;
        rep->bayes_auc = met.auc;
        rep->bayes_ne = met.ne;
        rep->bytes = j.bytes;
        rep->seconds = leap_now() - t0;
    }

done:
    leap_afile_abort(&data);
    leap_afile_abort(&truth);
    if (j.bufs)
        for (size_t i = 0; i < 2 * j.wave_blocks; i++) {
            free(j.bufs[i].text);
            free(j.bufs[i].truth);
        }
    free(j.bufs);
    free(j.p);
    free(j.y);
    dg_model_free(m);
    return rc;
}
