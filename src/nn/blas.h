/* blas.h — the BLAS calls of the layer library, resolved at run time.
 *
 * OpenBLAS is loaded with dlopen on the first call instead of being linked:
 * linked, its 60 KB of static thread-local storage comes out of every
 * thread's stack, and civetweb's ~100 KB worker stacks can no longer be
 * created (pthread_create fails with EINVAL), so `leap serve` could not start.
 * Loaded on demand, only processes that train or score embedding models map
 * it, and its TLS is dynamic. Include this instead of <cblas.h>: the names
 * below are renamed to the wrappers, with cblas.h's own prototypes. Without a
 * loadable OpenBLAS (or with LEAP_NO_BLAS set, as one test does) the
 * wrappers fall back to plain loops (correct, slow). */
#ifndef LEAP_NN_BLAS_H
#define LEAP_NN_BLAS_H

#define cblas_sgemm              leap_cblas_sgemm
#define cblas_sgemv              leap_cblas_sgemv
#define openblas_set_num_threads leap_openblas_set_num_threads
#include <cblas.h>

/* 1 when OpenBLAS was loaded, 0 when the fallback loops run. */
int leap_blas_loaded(void);

#endif
