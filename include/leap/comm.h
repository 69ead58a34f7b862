/* leap/comm.h — the communicator data-parallel work goes through.
 *
 * rank, size, allreduce, broadcast, barrier. Two implementations behind one
 * handle: local (size 1, every call a no-op) and MPI (OpenMPI), chosen at
 * leap_comm_init: MPI when leap was built with it AND the process was
 * started by mpirun (OMPI_COMM_WORLD_SIZE / PMI_SIZE set); local otherwise,
 * so a plain `leap train` never needs an MPI runtime.
 */
#ifndef LEAP_COMM_H
#define LEAP_COMM_H

#include "leap/core.h"

typedef struct leap_comm leap_comm;

/* Creates the communicator (initialising MPI when used). */
int leap_comm_init(leap_comm **out, leap_err *err);
/* Finalises MPI when used; frees c. */
void leap_comm_finalize(leap_comm *c);
int leap_comm_rank(const leap_comm *c);
int leap_comm_size(const leap_comm *c);
/* "local" or "mpi" */
const char *leap_comm_kind(const leap_comm *c);
/* In-place sums across ranks (any length; split into INT_MAX-safe pieces). */
int leap_comm_allreduce_sum_f32(leap_comm *c, float *buf, size_t n, leap_err *err);
int leap_comm_allreduce_sum_f64(leap_comm *c, double *buf, size_t n, leap_err *err);
/* In-place max across ranks. */
int leap_comm_allreduce_max_f64(leap_comm *c, double *buf, size_t n, leap_err *err);
/* Copies len bytes of root's buf to every rank. */
int leap_comm_bcast(leap_comm *c, void *buf, size_t len, int root, leap_err *err);
int leap_comm_barrier(leap_comm *c, leap_err *err);
/* Ends every rank with exit code `code` (MPI_Abort) when there are several;
 * a no-op for a single process. For failures on one rank that the others
 * would otherwise wait for forever. CLI use only. */
void leap_comm_abort(leap_comm *c, int code);

#endif
