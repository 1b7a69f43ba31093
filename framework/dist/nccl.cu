#include "framework/dist/nccl.h"

#include <nccl.h>

#include "framework/backend/cuda/context.h"
#include "framework/dist/dist.h"

#define OA_NCCL_CHECK(call) OA_GPU_CHECK_("NCCL", ncclSuccess, ncclGetErrorString, call)

namespace oa::dist {

namespace {

ncclComm_t& communicator_slot() {
  static ncclComm_t comm = nullptr;
  return comm;
}

// The communicator over all ranks, on the current device, made on first use.
ncclComm_t communicator() {
  ncclComm_t& comm = communicator_slot();
  if (comm) return comm;
  ncclUniqueId id;
  if (rank() == 0) OA_NCCL_CHECK(ncclGetUniqueId(&id));
  broadcast_bytes(&id, sizeof id, 0);
  OA_NCCL_CHECK(ncclCommInitRank(&comm, world_size(), id, rank()));
  return comm;
}

ncclDataType_t nccl_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    default: break;
  }
  throw Error(fmt::format("{}: NCCL cannot carry {}", op, describe(t)));
}

}  // namespace

void nccl_all_reduce_sum(Tensor& t) {
  OA_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<std::size_t>(t.numel()),
                              nccl_type(t, "all_reduce_sum"), ncclSum, communicator(), cuda::stream()));
}

void nccl_broadcast(Tensor& t, int root) {
  OA_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<std::size_t>(t.numel()),
                              nccl_type(t, "broadcast"), root, communicator(), cuda::stream()));
}

void release_nccl() {
  ncclComm_t& comm = communicator_slot();
  if (comm) ncclCommDestroy(comm);
  comm = nullptr;
}

}  // namespace oa::dist
