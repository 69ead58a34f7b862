/* harness.h — a tiny test harness: TEST(name) registers a test; typed asserts
 * report file:line and both values; main() runs every test (or those named on
 * the command line) and prints "N passed, N failed". Include once per test
 * executable. */
#ifndef LEAP_TEST_HARNESS_H
#define LEAP_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*th_fn)(void);
static struct {
    const char *tname;
    th_fn fn;
} th_tests[256];
static int th_n_tests;
static int th_failed_current;

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void th_register_##name(void) {                            \
        th_tests[th_n_tests].tname = #name;                                                        \
        th_tests[th_n_tests++].fn = test_##name;                                                   \
    }                                                                                              \
    static void test_##name(void)

#define TH_FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        th_failed_current = 1;                                                                     \
        return;                                                                                    \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c)) TH_FAIL("expected true: %s", #c);                                                \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long th_a = (long long)(a), th_b = (long long)(b);                                    \
        if (th_a != th_b) TH_FAIL("%s == %s: %lld != %lld", #a, #b, th_a, th_b);                   \
    } while (0)
#define ASSERT_EQ_U64(a, b)                                                                        \
    do {                                                                                           \
        uint64_t th_a = (uint64_t)(a), th_b = (uint64_t)(b);                                       \
        if (th_a != th_b) TH_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, th_a, th_b);        \
    } while (0)
/* |a - b| <= tol; NaN never passes. */
#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double th_a = (double)(a), th_b = (double)(b);                                             \
        if (!(fabs(th_a - th_b) <= (tol)))                                                         \
            TH_FAIL("%s ~= %s: %.17g vs %.17g (tol %g)", #a, #b, th_a, th_b, (double)(tol));       \
    } while (0)
#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        if (!strstr((hay), (needle))) TH_FAIL("'%s' does not contain '%s'", (hay), (needle));      \
    } while (0)
#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int th_rc = (expr);                                                                        \
        if (th_rc != 0) TH_FAIL("%s returned %d", #expr, th_rc);                                   \
    } while (0)

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < th_n_tests; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++)
                want |= strcmp(argv[a], th_tests[i].tname) == 0;
            if (!want) continue;
        }
        th_failed_current = 0;
        th_tests[i].fn();
        printf("%s %s\n", th_failed_current ? "FAIL" : "ok  ", th_tests[i].tname);
        if (th_failed_current)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
