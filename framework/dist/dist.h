#pragma once
// dist: the processes of one run and what they exchange. MPI (Open MPI) between processes and
// nodes; NCCL for tensors on the GPU when the CUDA back end is built with it.
//
// A process started by mpirun (or srun) is one rank of MPI_COMM_WORLD. A process started any
// other way is the only rank of a world of size 1: no MPI call is made, every collective
// below returns its input, and nothing changes for a user without MPI.
//
//   int main(...) {
//     oa::dist::Session session;                // MPI_Init under mpirun; MPI_Finalize at exit
//     ...
//     oa::dist::all_reduce_sum(gradient);        // every rank now holds the sum over ranks
//   }
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/nn/module.h"

namespace oa::dist {

// Joins the run's world for the lifetime of the object: MPI_Init when the process was launched
// by an MPI launcher (Open MPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK of Slurm and
// MPICH), nothing otherwise. One per process, made before any other call below; its destructor
// calls MPI_Finalize. After an error, call abort() rather than returning normally: the other
// ranks may be waiting inside a collective, where MPI_Finalize would wait for them forever.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

// This process's rank in [0, world_size()) and the number of processes (1 without MPI).
int rank();
int world_size();

// ---- collectives: every rank calls them in the same order with tensors of the same shape ----

// In place: every rank's t becomes the element-wise sum of all ranks' t. Float32 or float64;
// a CPU tensor goes through MPI_Allreduce, a CUDA tensor through ncclAllReduce.
void all_reduce_sum(Tensor& t);
// The same, divided by world_size(): the average over ranks.
void all_reduce_mean(Tensor& t);
// In place, for host bookkeeping (counts and sums of a training epoch).
void all_reduce_sum(std::vector<double>& values);
// In place: every rank's t becomes root's t.
void broadcast(Tensor& t, int root = 0);
// Root receives every rank's text, in rank order; the other ranks receive an empty vector.
std::vector<std::string> gather_text(const std::string& text, int root = 0);
// Waits until every rank has called it.
void barrier();
// Ends every rank of the run with `code` (MPI_Abort), or just this process without MPI.
[[noreturn]] void abort(int code);

// ---- models --------------------------------------------------------------------------------

// Every rank's parameters and buffers become root's (after initialisation or a resume).
void broadcast_module(nn::Module& model, int root = 0);
// Every rank's buffers (BatchNorm running statistics) become root's, as PyTorch's DDP does by
// default before each forward: the statistics of the run are those of root's slices.
void broadcast_buffers(nn::Module& model, int root = 0);
// Sums each parameter's gradient over ranks, in place (a parameter that no rank's backward
// reached holds zeros then). All parameters travel in one message per dtype: p gradients
// packed into one buffer, one all-reduce, unpacked.
void all_reduce_gradients(nn::Module& model);

// ---- sharding ------------------------------------------------------------------------------

// The shard of `count` items (positions 0..count-1) that rank `rank` of `size` owns: the
// positions i with i mod size == rank, in increasing order. Deterministic; the shards of the
// ranks 0..size-1 are disjoint and their union is every position. Throws on size < 1, rank
// outside [0, size) or count < 0.
std::vector<std::int64_t> shard(std::int64_t count, int rank, int size);

// The rows [begin, end) of a batch of `rows` that rank `rank` of `size` computes in data-parallel
// training: consecutive slices whose sizes differ by at most one, the larger ones first.
struct RowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};
RowRange batch_slice(std::int64_t rows, int rank, int size);

}  // namespace oa::dist
