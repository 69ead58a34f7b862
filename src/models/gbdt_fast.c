/* gbdt_fast.c — the scoring layout of a trained GBDT and its kernels.
 *
 * The trees as trained (gb_node: absolute children, 24 bytes, local indices)
 * are copied, once after training or loading, into a layout made for
 * descending them:
 *
 *   - every tree is complete and D levels deep (D = the deepest tree): node k
 *     of a tree has children 2k+1 and 2k+2, so a step computes the next node
 *     instead of loading it; a leaf above level D becomes an "always left"
 *     node and its value fills every leaf slot below it;
 *   - a node is one uint32 (see GBF_* below): feature byte, and either an
 *     ordinal test on a small code or the word offset of a categorical bitset;
 *   - a row is decoded to one byte per feature: a "code" that keeps exactly
 *     what the trees can tell apart. For an ordinal feature the code of a
 *     local index v is 1 + (the feature's distinct thresholds below v), 0 for
 *     missing; x <= thr becomes code <= rank(thr). For a categorical feature
 *     the code is min(v, fold) (the folded "other" bin every split of it
 *     clamps to), so its splits' bitsets are used as they are.
 *
 * A model qualifies when D <= GBF_MAX_DEPTH, F <= 256, n_trees * 2^D <= 2^26,
 * the features' index ranges are disjoint, every ordinal feature has at most
 * 254 distinct thresholds and every categorical feature one fold bin;
 * otherwise g->fast stays NULL and gbdt.c descends the trained nodes.
 *
 * Kernels (all give the same bits: leaf values are added to the double score
 * in tree order, one row at a time, exactly as the reference descent does):
 *   scalar   portable C: a block of rows descends one tree level by level
 *            (batch), or 16 trees side by side (one row);
 *   avx2     AVX2, picked at run time when AVX-512 is not there: 8 rows per
 *            vector with gathers (batch), or 8 trees per vector with the
 *            row's codes looked up by vpshufb from four registers (one row;
 *            gathered when F > 64);
 *   avx512   AVX-512 F/BW/VBMI, picked at run time: 16 rows per vector with
 *            gathers (batch), or 16 trees per vector with the row's codes
 *            held in one register and looked up by vpermb (one row; F <= 64).
 *
 * Does not train, save or load: the payload keeps the trained nodes, and this
 * layout is rebuilt from them.
 */
#include "gbdt_internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GBF_X86 1
#include <immintrin.h>
#define GBF_AVX2   __attribute__((target("avx2")))
#define GBF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#else
#define GBF_X86 0
#endif

/* Packed node: bits 0-7 feature; bit 31 set = categorical.
 *   ordinal:     bits 8-15 m, bits 16-23 b: left iff (uint8)(code - m) <= b
 *                (m = 0 when missing goes left, 1 when it goes right)
 *   categorical: bits 8-30 first bitset word: left iff bit `code` is set */
#define GBF_CAT       0x80000000u
#define GBF_WORD_MAX  0x7fffffu
#define GBF_ALWAYS_L  (255u << 16) /* feature 0, m 0, b 255 */
#define GBF_ROWS      64           /* rows of a decoded block */
#define GBF_TREE_LANE 16

static void fast_free(gb_fast *f) {
    if (!f) return;
    free(f->node);
    free(f->leaf);
    free(f->leaf_node);
    free(f->code);
    free(f->fld);
    free(f);
}

void leap__gbdt_fast_free(gbdt_model *g) {
    fast_free(g->fast);
    g->fast = NULL;
}

/* Copies the subtree of trained node i to complete-tree slot k at level d. */
static void fill(const gbdt_model *g, const gb_fast *f, const uint32_t *rank, uint32_t t,
                 uint32_t i, uint32_t k, uint32_t d) {
    const gb_node *nd = &g->nodes[i];
    if (d == f->depth) {
        size_t s = ((size_t)t << f->depth) + (k - f->n_int);
        f->leaf[s] = nd->value;
        f->leaf_node[s] = i;
        return;
    }
    uint32_t *p = &f->node[(size_t)t * f->n_int + k];
    if (nd->leaf) {
        *p = GBF_ALWAYS_L;
        fill(g, f, rank, t, i, 2 * k + 1, d + 1);
        fill(g, f, rank, t, i, 2 * k + 2, d + 1);
        return;
    }
    if (nd->cat) {
        *p = GBF_CAT | nd->thr << 8 | nd->feat;
    } else {
        const gb_feature *ft = &g->feat[nd->feat];
        uint32_t thr = nd->thr < ft->card - 1 ? nd->thr : ft->card - 1;
        uint32_t j = rank[ft->offset + thr]; /* 1-based rank of the threshold */
        uint32_t m = nd->miss <= nd->thr ? 0 : 1;
        *p = (j - m) << 16 | m << 8 | nd->feat;
    }
    fill(g, f, rank, t, nd->left, 2 * k + 1, d + 1);
    fill(g, f, rank, t, nd->right, 2 * k + 2, d + 1);
}

void leap__gbdt_fast_build(gbdt_model *g) {
    leap__gbdt_fast_free(g);
    uint32_t D = 0, F = g->F;
    for (uint32_t t = 0; t < g->n_trees; t++)
        if (g->trees[t].depth > D) D = g->trees[t].depth;
    if (D > GBF_MAX_DEPTH || F > 256 || g->n_words > GBF_WORD_MAX || g->n_trees == 0) return;
    /* padding every tree to the deepest one: keep it under 2^26 leaf slots (768 MB) */
    if (((uint64_t)g->n_trees << D) > ((uint64_t)1 << 26)) return;
    uint64_t space = 0;
    for (uint32_t j = 0; j < F; j++)
        if ((uint64_t)g->feat[j].offset + g->feat[j].card > space)
            space = (uint64_t)g->feat[j].offset + g->feat[j].card;
    if (space > ((uint64_t)1 << 28)) return;
    /* per feature: kind of its splits (1 ordinal, 2 categorical), fold bin;
     * per local index of an ordinal feature: threshold mark, then rank */
    uint8_t *kind = calloc(F, 1);
    uint32_t *fold = calloc(F, sizeof *fold);
    uint32_t *rank = calloc(space ? space : 1, sizeof *rank);
    gb_fast *f = calloc(1, sizeof *f);
    int ok = kind && fold && rank && f;
    /* codes are looked up by global index: the features' ranges must not overlap */
    for (uint32_t j = 0; ok && j < F; j++)
        for (uint32_t v = 0; ok && v < g->feat[j].card; v++)
            ok = !rank[g->feat[j].offset + v]++;
    if (ok) memset(rank, 0, space * sizeof *rank);
    for (uint32_t i = 0; ok && i < g->n_nodes; i++) {
        const gb_node *nd = &g->nodes[i];
        if (nd->leaf) continue;
        const gb_feature *ft = &g->feat[nd->feat];
        uint8_t k = nd->cat ? 2 : 1;
        if (kind[nd->feat] && kind[nd->feat] != k) ok = 0;
        if (nd->cat && kind[nd->feat] && fold[nd->feat] != nd->miss) ok = 0;
        if (nd->cat && nd->miss > 255) ok = 0;
        kind[nd->feat] = k;
        if (nd->cat)
            fold[nd->feat] = nd->miss;
        else
            rank[ft->offset + (nd->thr < ft->card - 1 ? nd->thr : ft->card - 1)] = 1;
    }
    if (ok) {
        f->depth = D;
        f->n_int = (1u << D) - 1;
        size_t nn = (size_t)g->n_trees * (f->n_int ? f->n_int : 1);
        size_t nl = (size_t)g->n_trees << D;
        f->node = calloc(nn + 32, sizeof *f->node); /* + 32: avx512_rows loads 32 past a level */
        f->leaf = calloc(nl + 64, sizeof *f->leaf); /* + 64: avx512_rows loads 64 a tree */
        f->leaf_node = malloc(nl * sizeof *f->leaf_node);
        f->code = calloc(space ? space : 1, 1);
        f->fld = calloc(g->n_fields ? g->n_fields : 1, sizeof *f->fld);
        ok = f->node && f->leaf && f->leaf_node && f->code && f->fld;
    }
    for (uint32_t j = 0; ok && j < F; j++) {
        const gb_feature *ft = &g->feat[j];
        uint8_t *c = f->code + ft->offset;
        if (ft->field < g->n_fields)
            f->fld[ft->field] = (struct gb_fast_field){j, ft->offset, ft->card};
        if (kind[j] == 2) {
            for (uint32_t v = 0; v < ft->card; v++)
                c[v] = (uint8_t)(v < fold[j] ? v : fold[j]);
        } else if (kind[j] == 1) {
            /* code(v) = 1 + #thresholds < v; a threshold's rank = #thresholds <= it */
            uint32_t *r = rank + ft->offset, below = 0;
            for (uint32_t v = 0; v < ft->card && ok; v++) {
                c[v] = (uint8_t)(v ? 1 + below : 0);
                if (r[v]) r[v] = ++below;
                if (below > 254) ok = 0;
            }
        }
    }
    if (ok) {
        for (uint32_t t = 0; t < g->n_trees; t++)
            fill(g, f, rank, t, g->trees[t].root, 0, 0);
        f->kernel = GB_KERNEL_SCALAR;
        if (leap__gbdt_kernel_available(GB_KERNEL_AVX2)) f->kernel = GB_KERNEL_AVX2;
        if (leap__gbdt_kernel_available(GB_KERNEL_AVX512)) f->kernel = GB_KERNEL_AVX512;
        g->fast = f;
        f = NULL;
    }
    fast_free(f);
    free(kind);
    free(fold);
    free(rank);
}

int leap__gbdt_kernel_available(int kernel) {
    switch (kernel) {
    case GB_KERNEL_REF:
    case GB_KERNEL_SCALAR: return 1;
    case GB_KERNEL_AVX2:
#if GBF_X86
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
#else
        return 0;
#endif
    case GB_KERNEL_AVX512:
#if GBF_X86
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vbmi");
#else
        return 0;
#endif
    default: return 0;
    }
}

const char *leap__gbdt_kernel_name(int kernel) {
    static const char *const names[] = {"reference", "scalar", "avx2", "avx512"};
    _Static_assert(sizeof names / sizeof names[0] == GB_KERNEL_COUNT, "a name per kernel");
    return kernel >= 0 && kernel < GB_KERNEL_COUNT ? names[kernel] : "?";
}

/* ---- decoding ----------------------------------------------------------------- */

/* Codes of row r of b into x[0..width) (0 = missing; width >= F), with the
 * same rules as leap__gbdt_decode_row. */
static void decode(const gbdt_model *g, const gb_fast *f, const leap_fbatch *b, size_t r,
                   uint8_t *x, size_t width) {
    memset(x, 0, width);
    uint32_t e = b->row_ptr[r + 1];
    if (b->field) {
        for (uint32_t k = b->row_ptr[r]; k < e; k++) {
            uint32_t idx = b->idx[k], fi = b->field[k];
            if (fi >= g->n_fields) continue;
            const struct gb_fast_field *q = &f->fld[fi];
            if (idx - q->offset < q->card) x[q->feat] = f->code[idx];
        }
        return;
    }
    for (uint32_t k = b->row_ptr[r]; k < e; k++) { /* no field ids: find the range */
        uint32_t idx = b->idx[k];
        for (uint32_t q = 0; q < g->F; q++)
            if (idx - g->feat[q].offset < g->feat[q].card) {
                x[q] = f->code[idx];
                break;
            }
    }
}

/* ---- scalar ------------------------------------------------------------------- */

static inline uint32_t step(uint32_t nd, const uint8_t *x, const uint32_t *words, uint32_t k) {
    uint32_t c = x[nd & 0xff];
    uint32_t lo = ((c - (nd >> 8)) & 0xff) <= ((nd >> 16) & 0xff);
    uint32_t cat = nd >> 31;
    /* ordinal nodes read word 0 (every model keeps one) and ignore it */
    uint32_t w = (((nd >> 8) & GBF_WORD_MAX) + (c >> 5)) & (0u - cat);
    uint32_t lc = (words[w] >> (c & 31)) & 1;
    return 2 * k + 2 - (cat ? lc : lo);
}

/* Raw scores of nr <= GBF_ROWS decoded rows xb[nr][S] (s holds the base). */
static void scalar_rows(const gbdt_model *g, const gb_fast *f, const uint8_t *xb, size_t S,
                        size_t nr, double *s) {
    uint32_t cur[GBF_ROWS];
    const uint32_t D = f->depth, NI = f->n_int;
    for (uint32_t t = 0; t < g->n_trees; t++) {
        const uint32_t *N = f->node + (size_t)t * NI;
        const float *L = f->leaf + ((size_t)t << D);
        for (size_t i = 0; i < nr; i++)
            cur[i] = 0;
        for (uint32_t d = 0; d < D; d++)
            for (size_t i = 0; i < nr; i++)
                cur[i] = step(N[cur[i]], xb + i * S, g->cat_words, cur[i]);
        for (size_t i = 0; i < nr; i++)
            s[i] += L[cur[i] - NI];
    }
}

/* acc plus the leaves of one decoded row over all trees, GBF_TREE_LANE trees
 * side by side (one row alone has no other parallelism), added in tree order. */
static double scalar_one(const gbdt_model *g, const gb_fast *f, const uint8_t *x, double acc) {
    uint32_t c[GBF_TREE_LANE];
    const uint32_t D = f->depth, NI = f->n_int;
    for (uint32_t t0 = 0; t0 < g->n_trees; t0 += GBF_TREE_LANE) {
        uint32_t m = g->n_trees - t0 < GBF_TREE_LANE ? g->n_trees - t0 : GBF_TREE_LANE;
        const uint32_t *N = f->node + (size_t)t0 * NI;
        for (uint32_t j = 0; j < m; j++)
            c[j] = 0;
        for (uint32_t d = 0; d < D; d++)
            for (uint32_t j = 0; j < m; j++)
                c[j] = step(N[j * NI + c[j]], x, g->cat_words, c[j]);
        for (uint32_t j = 0; j < m; j++)
            acc += f->leaf[((size_t)(t0 + j) << D) + c[j] - NI];
    }
    return acc;
}

/* ---- AVX2 ------------------------------------------------------------------------ */

#if GBF_X86
/* -1 in the lanes that go right at ordinal node tests nd on codes c (0..255).
 * AVX2 has no unsigned compare, but both sides are bytes, so a signed one does. */
GBF_AVX2 static inline __m256i v8right(__m256i nd, __m256i c) {
    const __m256i ff = _mm256_set1_epi32(0xff);
    __m256i b = _mm256_and_si256(_mm256_srli_epi32(nd, 16), ff);
    __m256i cm = _mm256_and_si256(_mm256_sub_epi32(c, _mm256_srli_epi32(nd, 8)), ff);
    return _mm256_cmpgt_epi32(cm, b);
}

/* right with its categorical lanes (nd's sign bit) replaced by their test:
 * right iff bit c%32 of their bitset word w is clear. */
GBF_AVX2 static inline __m256i v8right_cat(__m256i right, __m256i nd, __m256i c, __m256i w) {
    __m256i bit = _mm256_srlv_epi32(w, _mm256_and_si256(c, _mm256_set1_epi32(31)));
    __m256i rc =
        _mm256_cmpeq_epi32(_mm256_and_si256(bit, _mm256_set1_epi32(1)), _mm256_setzero_si256());
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(right), _mm256_castsi256_ps(rc),
                                                _mm256_castsi256_ps(nd)));
}

/* The next nodes: 2k+1 (left) or 2k+2 (right = -1). */
GBF_AVX2 static inline __m256i v8next(__m256i k, __m256i right) {
    return _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(k, k), _mm256_set1_epi32(1)), right);
}

/* The bitset words of the categorical lanes of node tests nd at codes c
 * (gathered; 0 in the other lanes). */
GBF_AVX2 static inline __m256i v8words(__m256i nd, __m256i c, const uint32_t *words) {
    __m256i wi = _mm256_add_epi32(
        _mm256_and_si256(_mm256_srli_epi32(nd, 8), _mm256_set1_epi32(GBF_WORD_MAX)),
        _mm256_srli_epi32(c, 5));
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)words, wi, nd, 4);
}

/* The next nodes k of 8 lanes after node tests nd on codes c; the bitset
 * words are gathered only when some lane is categorical (rows of one block
 * share each tree's top levels, so the branch predicts well there). */
GBF_AVX2 static inline __m256i v8step(__m256i nd, __m256i c, __m256i k, const uint32_t *words) {
    __m256i right = v8right(nd, c);
    if (_mm256_movemask_ps(_mm256_castsi256_ps(nd)))
        right = v8right_cat(right, nd, c, v8words(nd, c, words));
    return v8next(k, right);
}

/* Raw scores of nr <= GBF_ROWS decoded rows xb[nr][S] (s holds the base;
 * xb readable 3 bytes past the last row; xt the block by feature, xt[j][row]):
 * 8 rows per vector, GBF_NV2 vectors interleaved so their gathers overlap. */
#define GBF_NV2 8
GBF_AVX2 static void avx2_rows(const gbdt_model *g, const gb_fast *f, const uint8_t *xb,
                               const uint8_t *xt, size_t S, size_t nr, double *s) {
    const uint32_t D = f->depth, NI = f->n_int;
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i ff = _mm256_set1_epi32(0xff);
    double acc[8 * GBF_NV2];
    for (size_t r0 = 0; r0 < nr; r0 += 8 * GBF_NV2) {
        size_t n = nr - r0 < 8 * GBF_NV2 ? nr - r0 : 8 * GBF_NV2;
        int nv = (int)((n + 7) / 8);
        __m256i roff[GBF_NV2], k[GBF_NV2];
        __m256d lo[GBF_NV2], hi[GBF_NV2];
        memcpy(acc, s + r0, n * sizeof *acc);
        for (int v = 0; v < nv; v++) {
            /* lanes past the last row repeat it; their sums are not stored */
            __m256i row = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(r0 + 8 * (size_t)v)));
            row = _mm256_min_epu32(row, _mm256_set1_epi32((int)(nr - 1)));
            roff[v] = _mm256_mullo_epi32(row, _mm256_set1_epi32((int)S));
            lo[v] = _mm256_loadu_pd(acc + 8 * v);
            hi[v] = _mm256_loadu_pd(acc + 8 * v + 4);
        }
        for (uint32_t t = 0; t < g->n_trees; t++) {
            const uint32_t *N = f->node + (size_t)t * NI;
            const float *L = f->leaf + ((size_t)t << D);
            for (int v = 0; v < nv; v++)
                k[v] = _mm256_setzero_si256();
            for (uint32_t d = 0; d < D; d++) {
                /* the nodes of levels 0..5 (at most 32) are picked from
                 * registers by permutation, deeper levels gather (a gather's
                 * latency, not its throughput, bounds this loop); at levels
                 * 0..2 (at most 4 nodes) the codes come from their features'
                 * columns of xt, no gather */
                const uint32_t first = (1u << d) - 1;
                const __m256i t0 = _mm256_loadu_si256((const __m256i *)(N + first));
                const __m256i fv = _mm256_set1_epi32((int)first);
                if (d <= 2) {
                    /* and the (at most 4) bitset words of categorical nodes
                     * sit in registers */
                    const uint8_t *col[4];
                    __m256i ws[4];
                    int anycat = 0;
                    for (uint32_t j = 0; j < 4; j++) {
                        uint32_t nd = N[first + (j <= first ? j : 0)];
                        col[j] = xt + (size_t)(nd & 0xff) * GBF_ROWS + r0;
                        ws[j] = _mm256_setzero_si256();
                        if (nd & GBF_CAT) {
                            ws[j] = _mm256_loadu_si256(
                                (const __m256i *)(g->cat_words + ((nd >> 8) & GBF_WORD_MAX)));
                            anycat = 1;
                        }
                    }
                    for (int v = 0; v < nv; v++) {
                        __m256i rel = _mm256_sub_epi32(k[v], fv);
                        __m256 b0 = _mm256_castsi256_ps(_mm256_slli_epi32(rel, 31));
                        __m256 b1 = _mm256_castsi256_ps(_mm256_slli_epi32(rel, 30));
#define GBF_COL8(j)                                                                                \
    _mm256_castsi256_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(col[j] + 8 * v))))
                        __m256 c = GBF_COL8(0);
                        if (d >= 1) c = _mm256_blendv_ps(c, GBF_COL8(1), b0);
                        if (d == 2)
                            c = _mm256_blendv_ps(c, _mm256_blendv_ps(GBF_COL8(2), GBF_COL8(3), b0),
                                                 b1);
#undef GBF_COL8
                        __m256i nd = _mm256_permutevar8x32_epi32(t0, rel);
                        __m256i ci = _mm256_castps_si256(c), right = v8right(nd, ci);
                        if (anycat) {
                            __m256i wi = _mm256_srli_epi32(ci, 5);
#define GBF_W8(j) _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(ws[j], wi))
                            __m256 w = GBF_W8(0);
                            if (d >= 1) w = _mm256_blendv_ps(w, GBF_W8(1), b0);
                            if (d == 2)
                                w = _mm256_blendv_ps(w, _mm256_blendv_ps(GBF_W8(2), GBF_W8(3), b0),
                                                     b1);
#undef GBF_W8
                            right = v8right_cat(right, nd, ci, _mm256_castps_si256(w));
                        }
                        k[v] = v8next(k[v], right);
                    }
                    continue;
                }
                for (int v = 0; v < nv; v++) {
                    __m256i nd;
                    __m256i rel = _mm256_sub_epi32(k[v], fv);
                    if (d <= 3) {
                        nd = _mm256_permutevar8x32_epi32(t0, rel);
                    } else if (d <= 5) {
                        /* a permutation per 8 nodes, blends on the bits above */
#define GBF_N8(j)                                                                                  \
    _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(                                               \
        _mm256_loadu_si256((const __m256i *)(N + first + 8 * (j))), rel))
                        __m256 b3 = _mm256_castsi256_ps(_mm256_slli_epi32(rel, 28));
                        __m256 np = _mm256_blendv_ps(GBF_N8(0), GBF_N8(1), b3);
                        if (d == 5)
                            np = _mm256_blendv_ps(np, _mm256_blendv_ps(GBF_N8(2), GBF_N8(3), b3),
                                                  _mm256_castsi256_ps(_mm256_slli_epi32(rel, 27)));
                        nd = _mm256_castps_si256(np);
#undef GBF_N8
                    } else {
                        nd = _mm256_i32gather_epi32((const int *)N, k[v], 4);
                    }
                    __m256i at = _mm256_add_epi32(roff[v], _mm256_and_si256(nd, ff));
                    __m256i c =
                        _mm256_and_si256(_mm256_i32gather_epi32((const int *)xb, at, 1), ff);
                    k[v] = v8step(nd, c, k[v], g->cat_words);
                }
            }
            for (int v = 0; v < nv; v++) {
                __m256i slot = _mm256_sub_epi32(k[v], _mm256_set1_epi32((int)NI));
                __m256 val = _mm256_i32gather_ps(L, slot, 4);
                lo[v] = _mm256_add_pd(lo[v], _mm256_cvtps_pd(_mm256_castps256_ps128(val)));
                hi[v] = _mm256_add_pd(hi[v], _mm256_cvtps_pd(_mm256_extractf128_ps(val, 1)));
            }
        }
        for (int v = 0; v < nv; v++) {
            _mm256_storeu_pd(acc + 8 * v, lo[v]);
            _mm256_storeu_pd(acc + 8 * v + 4, hi[v]);
        }
        memcpy(s + r0, acc, n * sizeof *acc);
    }
}

/* Codes x[feature byte of nd] of 8 lanes, for F <= 64: x's 64 bytes sit in
 * four registers (each 16 bytes in both halves) and vpshufb looks up the low
 * 4 bits of the feature; bits 4 and 5 pick the register (vpblendvb reads
 * the top bit of each byte, so they are shifted there). */
GBF_AVX2 static inline __m256i v8codes64(const __m256i xr[4], __m256i nd) {
    __m256i b4 = _mm256_slli_epi32(nd, 3), b5 = _mm256_slli_epi32(nd, 2);
    __m256i c01 =
        _mm256_blendv_epi8(_mm256_shuffle_epi8(xr[0], nd), _mm256_shuffle_epi8(xr[1], nd), b4);
    __m256i c23 =
        _mm256_blendv_epi8(_mm256_shuffle_epi8(xr[2], nd), _mm256_shuffle_epi8(xr[3], nd), b4);
    return _mm256_and_si256(_mm256_blendv_epi8(c01, c23, b5), _mm256_set1_epi32(0xff));
}

/* acc plus the leaves of one decoded row x (max(64, F + 3) bytes): 8 trees
 * per vector, GBF_NV2 vectors side by side (their gathers overlap); codes by
 * vpshufb when F <= 64, else gathered; the leaf values are then added in
 * tree order. */
GBF_AVX2 static double avx2_one(const gbdt_model *g, const gb_fast *f, const uint8_t *x,
                                double acc) {
    const uint32_t D = f->depth, NI = f->n_int, T = g->n_trees;
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i ff = _mm256_set1_epi32(0xff);
    const int narrow = g->F <= 64;
    __m256i xr[4];
    for (int q = 0; q < 4; q++)
        xr[q] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x + 16 * q)));
    float val[GBF_NV2 * 8];
    for (uint32_t t0 = 0; t0 < T; t0 += GBF_NV2 * 8) {
        uint32_t m = T - t0 < GBF_NV2 * 8 ? T - t0 : GBF_NV2 * 8;
        int nv = (int)((m + 7) / 8);
        __m256i t[GBF_NV2], base[GBF_NV2], k[GBF_NV2];
        for (int v = 0; v < nv; v++) { /* lanes past the last tree repeat it, unused */
            t[v] = _mm256_min_epu32(_mm256_add_epi32(lane, _mm256_set1_epi32((int)t0 + 8 * v)),
                                    _mm256_set1_epi32((int)(T - 1)));
            base[v] = _mm256_mullo_epi32(t[v], _mm256_set1_epi32((int)NI));
            k[v] = _mm256_setzero_si256();
        }
        for (uint32_t d = 0; d < D; d++)
            for (int v = 0; v < nv; v++) {
                __m256i nd = _mm256_i32gather_epi32((const int *)f->node,
                                                    _mm256_add_epi32(base[v], k[v]), 4);
                __m256i c =
                    narrow ? v8codes64(xr, nd)
                           : _mm256_and_si256(_mm256_i32gather_epi32((const int *)x,
                                                                     _mm256_and_si256(nd, ff), 1),
                                              ff);
                /* lanes are trees: which are categorical follows no
                 * pattern, so no branch on it */
                __m256i right = v8right_cat(v8right(nd, c), nd, c, v8words(nd, c, g->cat_words));
                k[v] = v8next(k[v], right);
            }
        for (int v = 0; v < nv; v++) {
            __m256i slot = _mm256_add_epi32(_mm256_slli_epi32(t[v], (int)D),
                                            _mm256_sub_epi32(k[v], _mm256_set1_epi32((int)NI)));
            _mm256_storeu_ps(val + 8 * v, _mm256_i32gather_ps(f->leaf, slot, 4));
        }
        for (uint32_t j = 0; j < m; j++)
            acc += val[j];
    }
    return acc;
}
#endif

/* ---- AVX-512 ---------------------------------------------------------------------- */

#if GBF_X86
/* Which of 16 lanes go left at node tests nd on codes c, their categorical
 * lanes reading bitset word w (one per lane). */
GBF_AVX512 static inline __mmask16 vleft(__m512i nd, __m512i c, __mmask16 cat, __m512i w) {
    const __m512i ff = _mm512_set1_epi32(0xff);
    __m512i b = _mm512_and_si512(_mm512_srli_epi32(nd, 16), ff);
    __m512i cm = _mm512_and_si512(_mm512_sub_epi32(c, _mm512_srli_epi32(nd, 8)), ff);
    __mmask16 left = _mm512_cmple_epu32_mask(cm, b);
    __m512i bit = _mm512_srlv_epi32(w, _mm512_and_si512(c, _mm512_set1_epi32(31)));
    return (__mmask16)((left & ~cat) | _mm512_mask_test_epi32_mask(cat, bit, _mm512_set1_epi32(1)));
}

/* Next nodes: 2k+1 (left) or 2k+2. */
GBF_AVX512 static inline __m512i vnext(__m512i k, __mmask16 left) {
    k = _mm512_add_epi32(_mm512_add_epi32(k, k), _mm512_set1_epi32(2));
    return _mm512_mask_sub_epi32(k, left, k, _mm512_set1_epi32(1));
}

/* The next nodes k of 16 lanes after node tests nd on codes c, gathering the
 * categorical lanes' bitset words. */
GBF_AVX512 static inline __m512i vstep(__m512i nd, __m512i c, __m512i k, const uint32_t *words) {
    __mmask16 cat = _mm512_cmplt_epi32_mask(nd, _mm512_setzero_si512());
    __m512i w = _mm512_setzero_si512();
    if (cat) {
        __m512i wi = _mm512_add_epi32(
            _mm512_and_si512(_mm512_srli_epi32(nd, 8), _mm512_set1_epi32(GBF_WORD_MAX)),
            _mm512_srli_epi32(c, 5));
        w = _mm512_mask_i32gather_epi32(w, cat, wi, words, 4);
    }
    return vnext(k, vleft(nd, c, cat, w));
}

/* Raw scores of nr <= GBF_ROWS decoded rows xb[nr][S] (s holds the base;
 * xb readable 3 bytes past the last row): 16 rows per vector, NV vectors
 * interleaved so their gathers overlap. */
#define GBF_NV 4
GBF_AVX512 static void avx512_rows(const gbdt_model *g, const gb_fast *f, const uint8_t *xb,
                                   const uint8_t *xt, size_t S, size_t nr, double *s) {
    const uint32_t D = f->depth, NI = f->n_int;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i ff = _mm512_set1_epi32(0xff);
    for (size_t r0 = 0; r0 < nr; r0 += 16 * GBF_NV) {
        __m512i roff[GBF_NV], k[GBF_NV];
        __m512d lo[GBF_NV], hi[GBF_NV];
        int nv = (int)((nr - r0 + 15) / 16);
        if (nv > GBF_NV) nv = GBF_NV;
        for (int v = 0; v < GBF_NV; v++) {
            /* lanes past the last row repeat it; their sums are not stored */
            __m512i row = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(r0 + 16 * (size_t)v)));
            row = _mm512_min_epu32(row, _mm512_set1_epi32((int)(nr - 1)));
            roff[v] = _mm512_mullo_epi32(row, _mm512_set1_epi32((int)S));
            lo[v] = _mm512_set1_pd(s[0]);
            hi[v] = lo[v];
        }
        for (int v = 0; v < nv; v++) {
            size_t a = r0 + 16 * (size_t)v, n = nr - a < 16 ? nr - a : 16;
            __mmask8 ml = (__mmask8)(n >= 8 ? 0xff : (1u << n) - 1);
            __mmask8 mh = (__mmask8)(n >= 16 ? 0xff : n > 8 ? (1u << (n - 8)) - 1 : 0);
            lo[v] = _mm512_mask_loadu_pd(lo[v], ml, s + a);
            hi[v] = _mm512_mask_loadu_pd(hi[v], mh, s + a + 8);
        }
        for (uint32_t t = 0; t < g->n_trees; t++) {
            const uint32_t *N = f->node + (size_t)t * NI;
            const float *L = f->leaf + ((size_t)t << D);
            for (int v = 0; v < GBF_NV; v++)
                k[v] = _mm512_setzero_si512();
            for (uint32_t d = 0; d < D; d++) {
                /* levels 0..5 (at most 32 nodes) sit in two registers: the
                 * lanes pick theirs by permutation, deeper levels gather */
                const uint32_t first = (1u << d) - 1;
                const __m512i t0 = _mm512_loadu_si512(N + first);
                const __m512i t1 = _mm512_loadu_si512(N + first + 16);
                const __m512i fv = _mm512_set1_epi32((int)first);
                if (d <= 2) {
                    /* at most 4 nodes: codes from their features' columns of
                     * xt, bitset words from two registers; no gather */
                    const uint8_t *col[4];
                    __m256i ws[4];
                    int anycat = 0;
                    for (uint32_t j = 0; j < 4; j++) {
                        uint32_t nd = j <= first ? N[first + j] : GBF_ALWAYS_L;
                        col[j] = xt + (size_t)(nd & 0xff) * GBF_ROWS;
                        ws[j] = _mm256_setzero_si256();
                        if (nd & GBF_CAT) {
                            ws[j] = _mm256_loadu_si256(
                                (const __m256i *)(g->cat_words + ((nd >> 8) & GBF_WORD_MAX)));
                            anycat = 1;
                        }
                    }
                    const __m512i wlo = _mm512_inserti64x4(_mm512_castsi256_si512(ws[0]), ws[1], 1);
                    const __m512i whi = _mm512_inserti64x4(_mm512_castsi256_si512(ws[2]), ws[3], 1);
                    for (int v = 0; v < nv; v++) {
                        size_t a = r0 + 16 * (size_t)v;
                        __m512i rel = _mm512_sub_epi32(k[v], fv);
                        __mmask16 b0 = _mm512_test_epi32_mask(rel, _mm512_set1_epi32(1));
                        __mmask16 b1 = _mm512_test_epi32_mask(rel, _mm512_set1_epi32(2));
#define GBF_COL(j) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(col[j] + a)))
                        __m512i c = GBF_COL(0);
                        if (d >= 1) c = _mm512_mask_blend_epi32(b0, c, GBF_COL(1));
                        if (d == 2)
                            c = _mm512_mask_blend_epi32(
                                b1, c, _mm512_mask_blend_epi32(b0, GBF_COL(2), GBF_COL(3)));
#undef GBF_COL
                        __m512i nd = _mm512_permutexvar_epi32(rel, t0);
                        __mmask16 cat = _mm512_cmplt_epi32_mask(nd, _mm512_setzero_si512());
                        __m512i w = _mm512_setzero_si512();
                        if (anycat) {
                            __m512i wi =
                                _mm512_or_si512(_mm512_slli_epi32(rel, 3), _mm512_srli_epi32(c, 5));
                            w = _mm512_permutex2var_epi32(wlo, wi, whi);
                        }
                        k[v] = vnext(k[v], vleft(nd, c, cat, w));
                    }
                    continue;
                }
                for (int v = 0; v < nv; v++) {
                    __m512i rel = _mm512_sub_epi32(k[v], fv), nd;
                    if (d <= 4)
                        nd = _mm512_permutexvar_epi32(rel, t0);
                    else if (d == 5)
                        nd = _mm512_permutex2var_epi32(t0, rel, t1);
                    else
                        nd = _mm512_i32gather_epi32(k[v], N, 4);
                    __m512i at = _mm512_add_epi32(roff[v], _mm512_and_si512(nd, ff));
                    __m512i c = _mm512_and_si512(_mm512_i32gather_epi32(at, xb, 1), ff);
                    k[v] = vstep(nd, c, k[v], g->cat_words);
                }
            }
            /* leaf values: up to 64 slots from four registers, else gathered */
            const __m512 l0 = _mm512_loadu_ps(L), l1 = _mm512_loadu_ps(L + 16);
            const __m512 l2 = _mm512_loadu_ps(L + 32), l3 = _mm512_loadu_ps(L + 48);
            for (int v = 0; v < nv; v++) {
                __m512i slot = _mm512_sub_epi32(k[v], _mm512_set1_epi32((int)NI));
                __m512 val;
                if (D <= 5) {
                    val = _mm512_permutex2var_ps(l0, slot, l1);
                } else if (D == 6) {
                    __mmask16 up = _mm512_test_epi32_mask(slot, _mm512_set1_epi32(32));
                    val = _mm512_mask_blend_ps(up, _mm512_permutex2var_ps(l0, slot, l1),
                                               _mm512_permutex2var_ps(l2, slot, l3));
                } else {
                    val = _mm512_i32gather_ps(slot, L, 4);
                }
                lo[v] = _mm512_add_pd(lo[v], _mm512_cvtps_pd(_mm512_castps512_ps256(val)));
                hi[v] =
                    _mm512_add_pd(hi[v], _mm512_cvtps_pd(_mm256_castpd_ps(
                                             _mm512_extractf64x4_pd(_mm512_castps_pd(val), 1))));
            }
        }
        for (int v = 0; v < nv; v++) {
            size_t a = r0 + 16 * (size_t)v, n = nr - a < 16 ? nr - a : 16;
            __mmask8 ml = (__mmask8)(n >= 8 ? 0xff : (1u << n) - 1);
            __mmask8 mh = (__mmask8)(n >= 16 ? 0xff : n > 8 ? (1u << (n - 8)) - 1 : 0);
            _mm512_mask_storeu_pd(s + a, ml, lo[v]);
            _mm512_mask_storeu_pd(s + a + 8, mh, hi[v]);
        }
    }
}

/* acc plus the leaves of one row whose codes x (64 bytes, F <= 64) sit in one
 * register: 16 trees per vector, GBF_NV1 vectors side by side (their
 * gathers overlap), vpermb looks up each lane's feature; the leaf values
 * are then added in tree order. */
#define GBF_NV1 4
GBF_AVX512 static double avx512_one(const gbdt_model *g, const gb_fast *f, const uint8_t *x,
                                    double acc) {
    const uint32_t D = f->depth, NI = f->n_int, T = g->n_trees;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i xr = _mm512_loadu_si512(x);
    float val[GBF_NV1 * 16];
    for (uint32_t t0 = 0; t0 < T; t0 += GBF_NV1 * 16) {
        uint32_t m = T - t0 < GBF_NV1 * 16 ? T - t0 : GBF_NV1 * 16;
        int nv = (int)((m + 15) / 16);
        __m512i t[GBF_NV1], base[GBF_NV1], k[GBF_NV1];
        for (int v = 0; v < nv; v++) { /* lanes past the last tree repeat it, unused */
            t[v] = _mm512_min_epu32(_mm512_add_epi32(lane, _mm512_set1_epi32((int)t0 + 16 * v)),
                                    _mm512_set1_epi32((int)(T - 1)));
            base[v] = _mm512_mullo_epi32(t[v], _mm512_set1_epi32((int)NI));
            k[v] = _mm512_setzero_si512();
        }
        for (uint32_t d = 0; d < D; d++)
            for (int v = 0; v < nv; v++) {
                __m512i nd = _mm512_i32gather_epi32(_mm512_add_epi32(base[v], k[v]), f->node, 4);
                __m512i c =
                    _mm512_and_si512(_mm512_permutexvar_epi8(nd, xr), _mm512_set1_epi32(0xff));
                k[v] = vstep(nd, c, k[v], g->cat_words);
            }
        for (int v = 0; v < nv; v++) {
            __m512i slot = _mm512_add_epi32(_mm512_slli_epi32(t[v], (unsigned)D),
                                            _mm512_sub_epi32(k[v], _mm512_set1_epi32((int)NI)));
            _mm512_storeu_ps(val + 16 * v, _mm512_i32gather_ps(slot, f->leaf, 4));
        }
        for (uint32_t j = 0; j < m; j++)
            acc += val[j];
    }
    return acc;
}
#endif

/* ---- entry points ------------------------------------------------------------------ */

int leap__gbdt_fast_raw(const gbdt_model *g, const leap_fbatch *b, double *s, int kernel) {
    const gb_fast *f = g->fast;
    if (!f || kernel == GB_KERNEL_REF ||
        (kernel != f->kernel && !leap__gbdt_kernel_available(kernel)))
        return 0;
    const size_t S = g->F;
    /* Blocks of rows are decoded into the heap: this runs on server threads
     * whose stacks are ~100 KB (civetweb's), and 32 KB frames nested under a
     * request handler overflowed them. One row or a few use the stack. */
    uint8_t small[256 + 64], *heap = NULL, *xb = small;
#if GBF_X86
    uint8_t *xt = NULL;
#endif
    if (b->n_rows >= 4) {
        if (!(heap = malloc(2 * (size_t)GBF_ROWS * 256 + 64))) return 0; /* the reference scores */
        xb = heap;
#if GBF_X86
        xt = heap + (size_t)GBF_ROWS * 256 + 64;
#endif
    }
    int simd = GBF_X86 ? kernel : GB_KERNEL_SCALAR;
    for (size_t r0 = 0; r0 < b->n_rows; r0 += GBF_ROWS) {
        size_t nr = b->n_rows - r0 < GBF_ROWS ? b->n_rows - r0 : GBF_ROWS;
        if (nr < 4) { /* a few rows: trees side by side instead */
            for (size_t i = 0; i < nr; i++) {
                /* >= 64 codes (the one-row kernels load 64), 3 bytes past F
                 * (avx2_one gathers 4 bytes a code) */
                decode(g, f, b, r0 + i, xb, S + 3 > 64 ? S + 3 : 64);
#if GBF_X86
                if (simd == GB_KERNEL_AVX512 && S <= 64) {
                    s[r0 + i] = avx512_one(g, f, xb, g->base_score);
                    continue;
                }
                if (simd == GB_KERNEL_AVX2) {
                    s[r0 + i] = avx2_one(g, f, xb, g->base_score);
                    continue;
                }
#endif
                s[r0 + i] = scalar_one(g, f, xb, g->base_score);
            }
            continue;
        }
        for (size_t i = 0; i < nr; i++) {
            decode(g, f, b, r0 + i, xb + i * S, S);
            s[r0 + i] = g->base_score;
        }
        memset(xb + nr * S, 0, 4);
#if GBF_X86
        if (simd != GB_KERNEL_SCALAR) { /* the block by feature too: xt[feature][row] */
            for (size_t j = 0; j < S; j++) {
                uint8_t *col = xt + j * GBF_ROWS;
                for (size_t i = 0; i < nr; i++)
                    col[i] = xb[i * S + j];
                memset(col + nr, 0, GBF_ROWS - nr);
            }
            if (simd == GB_KERNEL_AVX512)
                avx512_rows(g, f, xb, xt, S, nr, s + r0);
            else
                avx2_rows(g, f, xb, xt, S, nr, s + r0);
            continue;
        }
#endif
        scalar_rows(g, f, xb, S, nr, s + r0);
    }
    free(heap);
    return 1;
}

int leap__gbdt_fast_leaves(const gbdt_model *g, const leap_fbatch *b, uint32_t *leaves) {
    const gb_fast *f = g->fast;
    if (!f) return 0;
    uint8_t x[256];
    const uint32_t D = f->depth, NI = f->n_int;
    for (size_t r = 0; r < b->n_rows; r++) {
        decode(g, f, b, r, x, g->F);
        for (uint32_t t = 0; t < g->n_trees; t++) {
            const uint32_t *N = f->node + (size_t)t * NI;
            uint32_t k = 0;
            for (uint32_t d = 0; d < D; d++)
                k = step(N[k], x, g->cat_words, k);
            leaves[r * g->n_trees + t] = f->leaf_node[((size_t)t << D) + k - NI];
        }
    }
    return 1;
}
