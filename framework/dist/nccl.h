#pragma once
// dist's collectives for CUDA tensors: NCCL, one communicator over all ranks, made on the first
// call (rank 0's ncclUniqueId reaches the others by an MPI broadcast), run on the CUDA back
// end's stream. Built when the CUDA back end and NCCL are (OA_WITH_NCCL); without them a
// CUDA tensor in a collective of more than one rank is an error that says so.
#include <cstddef>

#include "framework/core/tensor.h"

namespace oa::dist {

// Root's `bytes` bytes at `data` reach every rank (MPI_Bcast): how the NCCL id travels.
void broadcast_bytes(void* data, std::size_t bytes, int root);

#ifdef OA_WITH_NCCL
void nccl_all_reduce_sum(Tensor& t);
void nccl_broadcast(Tensor& t, int root);
// Destroys the communicator, if one was made (Session's destructor, before MPI_Finalize).
void release_nccl();
#else
[[noreturn]] inline void no_nccl(const Tensor& t) {
  throw Error(fmt::format("dist: {} lives on the GPU, but this build has no NCCL: rebuild with CUDA and NCCL, or "
                          "run the collective on the host",
                          describe(t)));
}
inline void nccl_all_reduce_sum(Tensor& t) { no_nccl(t); }
inline void nccl_broadcast(Tensor& t, int) { no_nccl(t); }
inline void release_nccl() {}
#endif

}  // namespace oa::dist
