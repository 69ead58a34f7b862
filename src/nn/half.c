/* half.c — 16-bit (IEEE fp16) weights for one-row inference (see nn/nn.h).
 *
 * Scoring one row runs each linear layer as a matrix-vector product: every
 * weight is read once and used once, so the time is the time to stream the
 * weights. DeepFM 400-400-400 holds 2.3 MB of f32 weights, more than a core's
 * 2 MB L2; in fp16 they take 1.15 MB and stay there between calls. Products
 * accumulate in f32 (each weight is converted on load: F16C/AVX-512
 * vcvtph2ps), so the only approximation is the rounding of the weights
 * themselves (relative 2^-11 at most).
 *
 * The kernel reads W[in][out] row by row (y += x[i]·W[i][:]) and skips the
 * rows whose x[i] is zero — half an MLP layer's inputs after a ReLU — so a
 * layer reads only the weights it needs. Each output column sums its terms in
 * input order whatever the kernel, so the kernels differ only where one fuses
 * a multiply-add that another rounds twice.
 *
 * Three kernels, picked once at run time (CPUID): AVX-512 (F, BW, VL), AVX2 +
 * FMA + F16C, and plain C for anything else. The library is built for the
 * baseline x86-64 ISA (or another architecture: then only the plain kernel
 * exists), so the wide kernels are compiled with target attributes.
 * Not here: batch products (they stay f32 sgemm, nn_linear_fwd) and training.
 */
#include "nn/nn.h"

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

/* ---- kernels ------------------------------------------------------------------------ */

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

static void gemv_plain(int in, int out, const float *x, const uint16_t *W, float *y) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        for (int t = 0; t < k; t++) {
            float xi = x[nz[t]];
            const uint16_t *w = W + (size_t)nz[t] * out;
            for (int j = 0; j < out; j++)
                y[j] += xi * nn_f16_to_f32(w[j]);
        }
    }
}

#if NN_HALF_X86
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"), always_inline)) inline
#define AVX2   __attribute__((target("avx2,f16c,fma"), always_inline)) inline

/* Columns [j0, j0 + 16·NV) of y (the last vector masked by `last`) over the
 * rows nz[0, k). NV is a constant at every call: the accumulators stay in
 * registers. */
static AVX512 void blk512(const float *x, const uint16_t *W, int out, const int *nz, int k,
                          float *y, int j0, const int NV, __mmask16 last) {
    __m512 acc[8];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, y + j0 + 16 * v);
    for (int t = 0; t < k; t++) {
        __m512 xi = _mm512_set1_ps(x[nz[t]]);
        const uint16_t *w = W + (size_t)nz[t] * out + j0;
        for (int v = 0; v < NV; v++) {
            __m256i h = v == NV - 1 ? _mm256_maskz_loadu_epi16(last, w + 16 * v)
                                    : _mm256_loadu_si256((const __m256i *)(w + 16 * v));
            acc[v] = _mm512_fmadd_ps(xi, _mm512_cvtph_ps(h), acc[v]);
        }
    }
    for (int v = 0; v < NV; v++)
        _mm512_mask_storeu_ps(y + j0 + 16 * v, v == NV - 1 ? last : 0xffff, acc[v]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma"))) static void
gemv_avx512(int in, int out, const float *x, const uint16_t *W, float *y) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        int j0 = 0;
        for (; j0 + 128 <= out; j0 += 128)
            blk512(x, W, out, nz, k, y, j0, 8, 0xffff);
        int rem = out - j0;
        if (!rem) continue;
        int nv = (rem + 15) / 16;
        __mmask16 last = (__mmask16)(rem % 16 ? (1u << (rem % 16)) - 1 : 0xffff);
        switch (nv) {
        case 1: blk512(x, W, out, nz, k, y, j0, 1, last); break;
        case 2: blk512(x, W, out, nz, k, y, j0, 2, last); break;
        case 3: blk512(x, W, out, nz, k, y, j0, 3, last); break;
        case 4: blk512(x, W, out, nz, k, y, j0, 4, last); break;
        case 5: blk512(x, W, out, nz, k, y, j0, 5, last); break;
        case 6: blk512(x, W, out, nz, k, y, j0, 6, last); break;
        case 7: blk512(x, W, out, nz, k, y, j0, 7, last); break;
        default: blk512(x, W, out, nz, k, y, j0, 8, last); break;
        }
    }
}

/* Columns [j0, j0 + 8·NV) of y over the rows nz[0, k). */
static AVX2 void blk256(const float *x, const uint16_t *W, int out, const int *nz, int k, float *y,
                        int j0, const int NV) {
    __m256 acc[8];
    for (int v = 0; v < NV; v++)
        acc[v] = _mm256_loadu_ps(y + j0 + 8 * v);
    for (int t = 0; t < k; t++) {
        __m256 xi = _mm256_set1_ps(x[nz[t]]);
        const uint16_t *w = W + (size_t)nz[t] * out + j0;
        for (int v = 0; v < NV; v++) {
            __m128i h = _mm_loadu_si128((const __m128i *)(w + 8 * v));
            acc[v] = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(h), acc[v]);
        }
    }
    for (int v = 0; v < NV; v++)
        _mm256_storeu_ps(y + j0 + 8 * v, acc[v]);
}

__attribute__((target("avx2,f16c,fma"))) static void gemv_avx2(int in, int out, const float *x,
                                                               const uint16_t *W, float *y) {
    int nz[CHUNK];
    for (int i0 = 0; i0 < in; i0 += CHUNK) {
        int k = nonzero(x, i0, i0 + CHUNK < in ? i0 + CHUNK : in, nz);
        int j0 = 0;
        for (; j0 + 64 <= out; j0 += 64)
            blk256(x, W, out, nz, k, y, j0, 8);
        for (; j0 + 8 <= out; j0 += 8)
            blk256(x, W, out, nz, k, y, j0, 1);
        for (; j0 < out; j0++) { /* the last out % 8 columns */
            float s = y[j0];
            for (int t = 0; t < k; t++)
                s = fmaf(x[nz[t]], _cvtsh_ss(W[(size_t)nz[t] * out + j0]), s);
            y[j0] = s;
        }
    }
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

typedef void (*gemv_fn)(int, int, const float *, const uint16_t *, float *);

static const char *const kernel_names[NN_HALF_KERNEL_COUNT] = {"plain", "avx2", "avx512"};
_Static_assert(sizeof kernel_names / sizeof kernel_names[0] == NN_HALF_KERNEL_COUNT,
               "one name per kernel");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gemv_fn fns[NN_HALF_KERNEL_COUNT]; /* NULL: not supported here */
static int best = NN_HALF_PLAIN;

/* Once: CPUID is slow under a hypervisor (a VM exit), never on the hot path. */
static void pick(void) {
    fns[NN_HALF_PLAIN] = gemv_plain;
#if NN_HALF_X86
    if (cpu_avx2()) fns[NN_HALF_AVX2] = gemv_avx2;
    if (cpu_avx512()) fns[NN_HALF_AVX512] = gemv_avx512;
#endif
    for (int k = NN_HALF_KERNEL_COUNT - 1; k >= 0; k--)
        if (fns[k]) {
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

int nn_gemv_f16_with(int kernel, int in, int out, const float *x, const uint16_t *W, const float *b,
                     float *y) {
    pthread_once(&once, pick);
    gemv_fn f = kernel >= 0 && kernel < NN_HALF_KERNEL_COUNT ? fns[kernel] : NULL;
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
