/* half.c — 16-bit (IEEE fp16) and 8-bit (int8, scaled per column) weights for
 * one-row inference (see nn/nn.h).
 *
 * Scoring one row runs each linear layer as a matrix-vector product: every
 * weight is read once and used once, so the time is the time to stream the
 * weights. DeepFM 400-400-400 holds 2.3 MB of f32 weights, more than a core's
 * 2 MB L2; in fp16 they take 1.15 MB and stay there between calls. DCN-v2's
 * three 624×624 cross layers add 2.3 MB more in fp16, read from L3 on every
 * call; in int8 the whole net takes 1.75 MB. Products accumulate in f32 (each
 * weight is converted on load: F16C/AVX-512 vcvtph2ps, or vpmovsxbd +
 * vcvtdq2ps), so the only approximation is the rounding of the weights
 * themselves: relative 2^-11 at most in fp16; in int8 half a step of the
 * column's scale, max|w|/127, which is coarse for the column's small weights.
 *
 * An int8 column j holds q[i][j] = round(w[i][j] / s[j]), s[j] = max_i |w[i][j]|
 * / 127 (symmetric, no zero point: 0 stays exact). The kernels sum x[i]·q[i][j]
 * and multiply by s[j] once at the end, one multiply per output rather than per
 * weight.
 *
 * The kernel reads W[in][out] row by row (y += x[i]·W[i][:]) and skips the
 * rows whose x[i] is zero — half an MLP layer's inputs after a ReLU — so a
 * layer reads only the weights it needs. Each output column sums its terms in
 * input order whatever the kernel, so the kernels differ only where one fuses
 * a multiply-add that another rounds twice.
 *
 * Three kernels per weight type, picked once at run time (CPUID): AVX-512 (F,
 * BW, VL), AVX2 + FMA + F16C, and plain C for anything else. The library is
 * built for the baseline x86-64 ISA (or another architecture: then only the
 * plain kernels exist), so the wide kernels are compiled with target
 * attributes.
 * Not here: batch products (they stay f32 sgemm, nn_linear_fwd) and training.
 */
#include "nn/nn.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define NN_HALF_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define NN_HALF_X86 0
#endif

/* ---- conversions (IEEE binary16, round to nearest even) ---------------------------- */

uint16_t nn_f16_from_f32(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf, nan (quiet, keeps the top payload bits) */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
    if (ax >= 0x477ff000u) /* ≥ 65520 rounds past the largest half (65504) */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                          /* below 2^-14: a subnormal half (or zero) */
        if (ax < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to zero */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;   /* 24-bit significand */
        int shift = 126 - (int)(ax >> 23);           /* 14..24 */
        uint32_t h = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax >> 13) - (112u << 10)); /* rebias 127 → 15 */
    uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* may carry into the exponent */
    return (uint16_t)(sign | h);
}

float nn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e) {
        x = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m) { /* subnormal: m·2^-24, exact in float */
        float f = (float)m * 0x1p-24f;
        memcpy(&x, &f, sizeof x);
        x |= sign;
    } else {
        x = sign;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

size_t nn_f16_round(size_t n, const float *src, uint16_t *h, float *r) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t v = nn_f16_from_f32(src[i]);
        if ((v & 0x7c00u) == 0x7c00u) bad++;
        h[i] = v;
        r[i] = nn_f16_to_f32(v);
    }
    return bad;
}

/* ---- 8-bit weights (one scale per output column) ---------------------------------- */

size_t nn_q8_quantise(int rows, int cols, const float *src, int8_t *q, float *s, float *r) {
    size_t bad = 0;
    for (int j = 0; j < cols; j++) {
        float m = 0.f;
        int finite = 1;
        for (int i = 0; i < rows; i++) {
            float a = fabsf(src[(size_t)i * cols + j]);
            finite &= isfinite(a) != 0;
            if (a > m) m = a;
        }
        float sc = m / 127.f;
        /* A subnormal scale keeps fewer than 24 bits: the column would lose
         * more than int8's rounding. An all-zero column is exact at scale 0. */
        if (!finite || (m > 0.f && sc < FLT_MIN)) {
            bad++;
            sc = 0.f;
        }
        s[j] = sc;
        for (int i = 0; i < rows; i++) {
            size_t k = (size_t)i * cols + j;
            float v = sc > 0.f ? nearbyintf(src[k] / sc) : 0.f;
            q[k] = (int8_t)(v > 127.f ? 127 : v < -127.f ? -127 : v);
            r[k] = (float)q[k] * sc;
        }
    }
    return bad;
}

/* ---- kernels ------------------------------------------------------------------------ */

/* One body per ISA serves both weight types: WB, the bytes per weight (2:
 * fp16, 1: int8), is a constant wherever the always_inline bodies are
 * expanded, so each kernel converts its own type with no branch. */

#define CHUNK 256 /* inputs per pass: their nonzero indices on the stack */

/* Indices of the nonzero x[i0, i1), in order. */
static int nonzero(const float *x, int i0, int i1, int *nz) {
    int k = 0;
    for (int i = i0; i < i1; i++) {
        nz[k] = i;
        k += x[i] != 0.f;
    }
    return k;
}

static inline __attribute__((always_inline)) float wload(const void *W, size_t k, const int WB) {
    return WB == 2 ? nn_f16_to_f32(((const uint16_t *)W)[k]) : (float)((const int8_t *)W)[k];
}

static inline __attribute__((always_inline)) void
gemv_plain(int in, int out, const float *x, const void *W, float *y, const int WB) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        for (int t = 0; t < k; t++) {
            float xi = x[nz[t]];
            size_t w = (size_t)nz[t] * out;
            for (int j = 0; j < out; j++)
                y[j] += xi * wload(W, w + j, WB);
        }
    }
}

static void gemv_plain_f16(int in, int out, const float *x, const void *W, float *y) {
    gemv_plain(in, out, x, W, y, 2);
}

static void gemv_plain_q8(int in, int out, const float *x, const void *W, float *y) {
    gemv_plain(in, out, x, W, y, 1);
}

#if NN_HALF_X86
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"), always_inline)) inline
#define AVX2   __attribute__((target("avx2,f16c,fma"), always_inline)) inline

/* 16 weights from p as floats (lanes outside m read as 0). */
static AVX512 __m512 load16(const void *p, __mmask16 m, const int WB) {
    if (WB == 2)
        return _mm512_cvtph_ps(m == 0xffff ? _mm256_loadu_si256((const __m256i *)p)
                                           : _mm256_maskz_loadu_epi16(m, p));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(m == 0xffff ? _mm_loadu_si128((const __m128i *)p)
                                                               : _mm_maskz_loadu_epi8(m, p)));
}

/* Columns [j0, j0 + 16·NV) of y (the last vector masked by `last`) over the
 * rows nz[0, k). NV is a constant at every call: the accumulators stay in
 * registers. */
static AVX512 void blk512(const float *x, const void *W, int out, const int *nz, int k, float *y,
                          int j0, const int NV, __mmask16 last, const int WB) {
    __m512 acc[8];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, y + j0 + 16 * v);
    for (int t = 0; t < k; t++) {
        __m512 xi = _mm512_set1_ps(x[nz[t]]);
        const char *w = (const char *)W + ((size_t)nz[t] * out + j0) * WB;
        for (int v = 0; v < NV; v++)
            acc[v] = _mm512_fmadd_ps(xi, load16(w + 16 * v * WB, v == NV - 1 ? last : 0xffff, WB),
                                     acc[v]);
    }
    for (int v = 0; v < NV; v++)
        _mm512_mask_storeu_ps(y + j0 + 16 * v, v == NV - 1 ? last : 0xffff, acc[v]);
}

static AVX512 void gemv512(int in, int out, const float *x, const void *W, float *y, const int WB) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        int j0 = 0;
        for (; j0 + 128 <= out; j0 += 128)
            blk512(x, W, out, nz, k, y, j0, 8, 0xffff, WB);
        int rem = out - j0;
        if (!rem) continue;
        int nv = (rem + 15) / 16;
        __mmask16 last = (__mmask16)(rem % 16 ? (1u << (rem % 16)) - 1 : 0xffff);
        switch (nv) {
        case 1: blk512(x, W, out, nz, k, y, j0, 1, last, WB); break;
        case 2: blk512(x, W, out, nz, k, y, j0, 2, last, WB); break;
        case 3: blk512(x, W, out, nz, k, y, j0, 3, last, WB); break;
        case 4: blk512(x, W, out, nz, k, y, j0, 4, last, WB); break;
        case 5: blk512(x, W, out, nz, k, y, j0, 5, last, WB); break;
        case 6: blk512(x, W, out, nz, k, y, j0, 6, last, WB); break;
        case 7: blk512(x, W, out, nz, k, y, j0, 7, last, WB); break;
        default: blk512(x, W, out, nz, k, y, j0, 8, last, WB); break;
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static void
gemv_avx512_f16(int in, int out, const float *x, const void *W, float *y) {
    gemv512(in, out, x, W, y, 2);
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static void
gemv_avx512_q8(int in, int out, const float *x, const void *W, float *y) {
    gemv512(in, out, x, W, y, 1);
}

/* 8 weights from p as floats. */
static AVX2 __m256 load8(const void *p, const int WB) {
    if (WB == 2) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/* Columns [j0, j0 + 8·NV) of y over the rows nz[0, k). */
static AVX2 void blk256(const float *x, const void *W, int out, const int *nz, int k, float *y,
                        int j0, const int NV, const int WB) {
    __m256 acc[8];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm256_loadu_ps(y + j0 + 8 * v);
    for (int t = 0; t < k; t++) {
        __m256 xi = _mm256_set1_ps(x[nz[t]]);
        const char *w = (const char *)W + ((size_t)nz[t] * out + j0) * WB;
        for (int v = 0; v < NV; v++)
            acc[v] = _mm256_fmadd_ps(xi, load8(w + 8 * v * WB, WB), acc[v]);
    }
    for (int v = 0; v < NV; v++)
        _mm256_storeu_ps(y + j0 + 8 * v, acc[v]);
}

static AVX2 float wload_avx2(const void *W, size_t k, const int WB) {
    return WB == 2 ? _cvtsh_ss(((const uint16_t *)W)[k]) : (float)((const int8_t *)W)[k];
}

static AVX2 void gemv256(int in, int out, const float *x, const void *W, float *y, const int WB) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        int j0 = 0;
        for (; j0 + 64 <= out; j0 += 64)
            blk256(x, W, out, nz, k, y, j0, 8, WB);
        for (; j0 + 8 <= out; j0 += 8)
            blk256(x, W, out, nz, k, y, j0, 1, WB);
        for (; j0 < out; j0++) { /* the last out % 8 columns */
            float s = y[j0];
            for (int t = 0; t < k; t++)
                s = fmaf(x[nz[t]], wload_avx2(W, (size_t)nz[t] * out + j0, WB), s);
            y[j0] = s;
        }
    }
}

__attribute__((target("avx2,f16c,fma"))) static void gemv_avx2_f16(int in, int out, const float *x,
                                                                   const void *W, float *y) {
    gemv256(in, out, x, W, y, 2);
}

__attribute__((target("avx2,f16c,fma"))) static void gemv_avx2_q8(int in, int out, const float *x,
                                                                  const void *W, float *y) {
    gemv256(in, out, x, W, y, 1);
}

static int cpu_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

static int cpu_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C)) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

typedef void (*gemv_fn)(int, int, const float *, const void *, float *);

static const char *const kernel_names[NN_HALF_KERNEL_COUNT] = {"plain", "avx2", "avx512"};
_Static_assert(sizeof kernel_names / sizeof kernel_names[0] == NN_HALF_KERNEL_COUNT,
               "one name per kernel");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gemv_fn fns16[NN_HALF_KERNEL_COUNT], fns8[NN_HALF_KERNEL_COUNT]; /* NULL: not here */
static int best = NN_HALF_PLAIN;

/* Once: CPUID is slow under a hypervisor (a VM exit), never on the hot path. */
static void pick(void) {
    fns16[NN_HALF_PLAIN] = gemv_plain_f16;
    fns8[NN_HALF_PLAIN] = gemv_plain_q8;
#if NN_HALF_X86
    if (cpu_avx2()) {
        fns16[NN_HALF_AVX2] = gemv_avx2_f16;
        fns8[NN_HALF_AVX2] = gemv_avx2_q8;
    }
    if (cpu_avx512()) {
        fns16[NN_HALF_AVX512] = gemv_avx512_f16;
        fns8[NN_HALF_AVX512] = gemv_avx512_q8;
    }
#endif
    for (int k = NN_HALF_KERNEL_COUNT - 1; k >= 0; k--)
        if (fns16[k]) {
            best = k;
            return;
        }
}

int nn_half_kernel(void) {
    pthread_once(&once, pick);
    return best;
}

const char *nn_half_kernel_name(int kernel) {
    return kernel >= 0 && kernel < NN_HALF_KERNEL_COUNT ? kernel_names[kernel] : "?";
}

static gemv_fn kernel_fn(const gemv_fn *fns, int kernel) {
    pthread_once(&once, pick);
    return kernel >= 0 && kernel < NN_HALF_KERNEL_COUNT ? fns[kernel] : NULL;
}

int nn_gemv_f16_with(int kernel, int in, int out, const float *x, const uint16_t *W, const float *b,
                     float *y) {
    gemv_fn f = kernel_fn(fns16, kernel);
    if (!f) return -1;
    if (out <= 0) return 0;
    memset(y, 0, (size_t)out * sizeof *y);
    if (in > 0) f(in, out, x, W, y);
    if (b)
        for (int j = 0; j < out; j++)
            y[j] += b[j];
    return 0;
}

void nn_gemv_f16(int in, int out, const float *x, const uint16_t *W, const float *b, float *y) {
    nn_gemv_f16_with(nn_half_kernel(), in, out, x, W, b, y);
}

int nn_gemv_q8_with(int kernel, int in, int out, const float *x, const int8_t *W, const float *s,
                    const float *b, float *y) {
    gemv_fn f = kernel_fn(fns8, kernel);
    if (!f) return -1;
    if (out <= 0) return 0;
    memset(y, 0, (size_t)out * sizeof *y);
    if (in > 0) f(in, out, x, W, y);
    for (int j = 0; j < out; j++) /* the column's scale once, on its sum */
        y[j] = y[j] * s[j] + (b ? b[j] : 0.f);
    return 0;
}

void nn_gemv_q8(int in, int out, const float *x, const int8_t *W, const float *s, const float *b,
                float *y) {
    nn_gemv_q8_with(nn_half_kernel(), in, out, x, W, s, b, y);
}
