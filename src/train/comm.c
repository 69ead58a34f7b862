/* comm.c — leap_comm: the local (single-process) and MPI implementations.
 * Compiles without MPI (LEAP_HAVE_MPI unset): then only the local one exists. */
#include "leap/comm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef LEAP_HAVE_MPI
#include <mpi.h>
#endif

struct leap_comm {
    int rank, size;
    int mpi; /* 1 when MPI is initialised by us */
};

static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int leap_comm_init(leap_comm **out, leap_err *err) {
    leap_comm *c = calloc(1, sizeof *c);
    if (!c) return leap_err_set(err, LEAP_ENOMEM, "comm: out of memory");
    c->size = 1;
#ifdef LEAP_HAVE_MPI
    if (launched_by_mpirun()) {
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(c);
            return leap_err_set(err, LEAP_ECOMM, "MPI_Init failed");
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        c->mpi = 1;
    }
#else
    if (launched_by_mpirun() && getenv("OMPI_COMM_WORLD_SIZE") &&
        atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1) {
        free(c);
        return leap_err_set(err, LEAP_EUNSUPPORTED,
                            "started by mpirun but this leap was built without MPI");
    }
#endif
    *out = c;
    return LEAP_OK;
}

void leap_comm_finalize(leap_comm *c) {
    if (!c) return;
#ifdef LEAP_HAVE_MPI
    if (c->mpi) MPI_Finalize();
#endif
    free(c);
}

int leap_comm_rank(const leap_comm *c) { return c ? c->rank : 0; }
int leap_comm_size(const leap_comm *c) { return c ? c->size : 1; }
const char *leap_comm_kind(const leap_comm *c) { return c && c->mpi ? "mpi" : "local"; }

#ifdef LEAP_HAVE_MPI
static int allreduce(leap_comm *c, void *buf, size_t n, MPI_Datatype t, size_t esz, MPI_Op op,
                     leap_err *err) {
    char *p = buf;
    while (n > 0) {
        int k = n > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, p, k, t, op, MPI_COMM_WORLD) != MPI_SUCCESS)
            return leap_err_set(err, LEAP_ECOMM, "MPI_Allreduce failed");
        p += (size_t)k * esz;
        n -= (size_t)k;
    }
    return LEAP_OK;
}
#endif

int leap_comm_allreduce_sum_f32(leap_comm *c, float *buf, size_t n, leap_err *err) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1)
        return allreduce(c, buf, n, MPI_FLOAT, sizeof(float), MPI_SUM, err);
#endif
    return LEAP_OK;
}

int leap_comm_allreduce_sum_f64(leap_comm *c, double *buf, size_t n, leap_err *err) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1)
        return allreduce(c, buf, n, MPI_DOUBLE, sizeof(double), MPI_SUM, err);
#endif
    return LEAP_OK;
}

int leap_comm_allreduce_max_f64(leap_comm *c, double *buf, size_t n, leap_err *err) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1)
        return allreduce(c, buf, n, MPI_DOUBLE, sizeof(double), MPI_MAX, err);
#endif
    return LEAP_OK;
}

int leap_comm_bcast(leap_comm *c, void *buf, size_t len, int root, leap_err *err) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1) {
        char *p = buf;
        while (len > 0) {
            int k = len > (size_t)INT_MAX ? INT_MAX : (int)len;
            if (MPI_Bcast(p, k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
                return leap_err_set(err, LEAP_ECOMM, "MPI_Bcast failed");
            p += k;
            len -= (size_t)k;
        }
    }
#endif
    return LEAP_OK;
}

int leap_comm_barrier(leap_comm *c, leap_err *err) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1 && MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
        return leap_err_set(err, LEAP_ECOMM, "MPI_Barrier failed");
#endif
    return LEAP_OK;
}

void leap_comm_abort(leap_comm *c, int code) {
#ifdef LEAP_HAVE_MPI
    if (c && c->mpi && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)c;
    (void)code;
#endif
}
