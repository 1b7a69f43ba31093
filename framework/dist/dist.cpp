#include "framework/dist/dist.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#ifdef OA_WITH_MPI
#include <mpi.h>
#endif

#include "framework/core/error.h"
#include "framework/dist/nccl.h"

namespace oa::dist {

namespace {

// The world as Session found it: size 1 and rank 0 until a Session joins an MPI launch.
struct World {
  int rank = 0, size = 1;
  bool mpi = false;     // MPI_Init was called by this process's Session
  bool session = false;  // a Session exists
};
World& world() {
  static World w;
  return w;
}

// Whether an MPI launcher started this process: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE,
// Slurm's srun and MPICH's Hydra set PMI_SIZE, PMIx launchers PMIX_RANK.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

#ifdef OA_WITH_MPI
// MPI calls go through this check, which names the call, the file and the line and throws.
// MPI_COMM_WORLD's default handler aborts on error; Session sets MPI_ERRORS_RETURN so that a
// failed call reaches this message instead.
#define OA_MPI_CHECK(call)                                                                               \
  do {                                                                                                   \
    const int oa_mpi_status_ = (call);                                                                   \
    if (oa_mpi_status_ != MPI_SUCCESS) {                                                                 \
      char oa_mpi_text_[MPI_MAX_ERROR_STRING];                                                           \
      int oa_mpi_length_ = 0;                                                                            \
      MPI_Error_string(oa_mpi_status_, oa_mpi_text_, &oa_mpi_length_);                                   \
      throw ::oa::Error(fmt::format("MPI error in {} at {}:{}: {}", #call, __FILE__, __LINE__,            \
                                    std::string(oa_mpi_text_, static_cast<std::size_t>(oa_mpi_length_)))); \
    }                                                                                                    \
  } while (0)

MPI_Datatype mpi_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    default: break;
  }
  throw Error(fmt::format("{}: expected a float32 or float64 tensor, got {}", op, describe(t)));
}

int mpi_count(std::int64_t n, const char* op) {
  OA_CHECK(n <= std::numeric_limits<int>::max(), "{}: {} elements exceed one MPI message ({} at most)", op, n,
           std::numeric_limits<int>::max());
  return static_cast<int>(n);
}
#endif

void check_collective_input(const Tensor& t, const char* op) {
  OA_CHECK(t.defined(), "{}: the tensor is undefined", op);
  OA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64,
           "{}: expected a float32 or float64 tensor, got {}", op, describe(t));
}

// A view of `shape` onto the elements of the flat tensor `flat` from `offset` on.
Tensor elements_of(const Tensor& flat, std::int64_t offset, const Shape& shape) {
  auto view = std::make_shared<TensorImpl>();
  view->storage = flat.impl().storage;
  view->offset = flat.impl().offset + offset;
  view->shape = shape;
  view->dtype = flat.dtype();
  return Tensor(view);
}

}  // namespace

Session::Session() {
  OA_CHECK(!world().session, "dist::Session: one per process, and this process already has one");
  world().session = true;
  if (!launched_by_mpi()) return;
#ifdef OA_WITH_MPI
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) OA_MPI_CHECK(MPI_Init(nullptr, nullptr));
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &world().rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world().size);
  world().mpi = true;
#else
  throw Error(
      "dist::Session: started by an MPI launcher, but this build has no MPI (install libopenmpi-dev and "
      "rebuild): every rank would run the whole job alone");
#endif
}

Session::~Session() {
  release_nccl();
#ifdef OA_WITH_MPI
  if (world().mpi) MPI_Finalize();
#endif
  world() = World{};
}

int rank() { return world().rank; }
int world_size() { return world().size; }

void all_reduce_sum(Tensor& t) {
  check_collective_input(t, "all_reduce_sum");
  if (world().size == 1) return;
  if (t.device() == Device::CUDA) return nccl_all_reduce_sum(t);
#ifdef OA_WITH_MPI
  OA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), mpi_count(t.numel(), "all_reduce_sum"),
                             mpi_type(t, "all_reduce_sum"), MPI_SUM, MPI_COMM_WORLD));
#endif
}

void all_reduce_mean(Tensor& t) {
  all_reduce_sum(t);
  if (world().size == 1) return;
  Tensor scaled = t.to(Device::CPU);
  dispatch_floating(t.dtype(), "all_reduce_mean", [&](auto tag) {
    using T = decltype(tag);
    T* values = scaled.data<T>();
    for (std::int64_t i = 0; i < scaled.numel(); ++i) values[i] /= static_cast<T>(world().size);
  });
  t.copy_(scaled.to(t.device()));
}

void all_reduce_sum(std::vector<double>& values) {
  if (world().size == 1 || values.empty()) return;
#ifdef OA_WITH_MPI
  OA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), mpi_count(static_cast<std::int64_t>(values.size()), "all_reduce_sum"),
                             MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
#endif
}

void broadcast(Tensor& t, int root) {
  OA_CHECK(t.defined(), "broadcast: the tensor is undefined");
  OA_CHECK(root >= 0 && root < world().size, "broadcast: root {} is not a rank of a world of {}", root,
           world().size);
  if (world().size == 1) return;
  if (t.device() == Device::CUDA) return nccl_broadcast(t, root);
  broadcast_bytes(t.raw_data(), t.nbytes(), root);  // as bytes: buffers hold int64 counters too
}

std::vector<std::string> gather_text(const std::string& text, int root) {
  OA_CHECK(root >= 0 && root < world().size, "gather_text: root {} is not a rank of a world of {}", root,
           world().size);
  if (world().size == 1) return {text};
  std::vector<std::string> texts;
#ifdef OA_WITH_MPI
  // Two steps: the lengths (MPI_Gather), then the bytes at their offsets (MPI_Gatherv).
  const int length = mpi_count(static_cast<std::int64_t>(text.size()), "gather_text");
  std::vector<int> lengths(static_cast<std::size_t>(world().size)), offsets(lengths.size());
  OA_MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD));
  std::int64_t total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = mpi_count(total, "gather_text");
    total += lengths[r];
  }
  std::string all(world().rank == root ? static_cast<std::size_t>(total) : 0, '\0');
  OA_MPI_CHECK(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, root,
                           MPI_COMM_WORLD));
  if (world().rank == root)
    for (std::size_t r = 0; r < lengths.size(); ++r) texts.push_back(all.substr(offsets[r], lengths[r]));
#endif
  return texts;
}

void broadcast_bytes(void* data, std::size_t bytes, int root) {
  if (world().size == 1) return;
#ifdef OA_WITH_MPI
  OA_MPI_CHECK(MPI_Bcast(data, mpi_count(static_cast<std::int64_t>(bytes), "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD));
#endif
}

void barrier() {
  if (world().size == 1) return;
#ifdef OA_WITH_MPI
  OA_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
#endif
}

void abort(int code) {
#ifdef OA_WITH_MPI
  if (world().mpi && world().size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void broadcast_module(nn::Module& model, int root) {
  for (auto& [name, p] : model.named_parameters()) broadcast(p, root);
  broadcast_buffers(model, root);
}

void broadcast_buffers(nn::Module& model, int root) {
  for (auto& [name, b] : model.named_buffers()) broadcast(b, root);
}

void all_reduce_gradients(nn::Module& model) {
  if (world().size == 1) return;
  // Grouped by (dtype, device): each group packed into one flat tensor, reduced, unpacked.
  std::map<std::pair<DType, Device>, std::vector<Tensor>> groups;
  for (const Tensor& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.impl().grad = Tensor::zeros(p.shape(), p.dtype(), p.device()).impl_ptr();
    groups[{p.dtype(), p.device()}].push_back(p.grad());
  }
  for (auto& [key, grads] : groups) {
    std::int64_t total = 0;
    for (const Tensor& g : grads) total += g.numel();
    Tensor packed = Tensor::empty({total}, key.first, key.second);
    std::int64_t offset = 0;
    for (const Tensor& g : grads) {
      elements_of(packed, offset, g.shape()).copy_(g);
      offset += g.numel();
    }
    all_reduce_sum(packed);
    offset = 0;
    for (Tensor& g : grads) {
      g.copy_(elements_of(packed, offset, g.shape()));
      offset += g.numel();
    }
  }
}

std::vector<std::int64_t> shard(std::int64_t count, int rank, int size) {
  OA_CHECK(size >= 1, "shard: the world size must be at least 1, got {}", size);
  OA_CHECK(rank >= 0 && rank < size, "shard: rank {} is outside [0, {})", rank, size);
  OA_CHECK(count >= 0, "shard: the item count must be non-negative, got {}", count);
  std::vector<std::int64_t> positions;
  for (std::int64_t i = rank; i < count; i += size) positions.push_back(i);
  return positions;
}

RowRange batch_slice(std::int64_t rows, int rank, int size) {
  OA_CHECK(size >= 1, "batch_slice: the world size must be at least 1, got {}", size);
  OA_CHECK(rank >= 0 && rank < size, "batch_slice: rank {} is outside [0, {})", rank, size);
  OA_CHECK(rows >= 0, "batch_slice: the row count must be non-negative, got {}", rows);
  // The first (rows mod size) ranks take one row more than the others.
  const std::int64_t base = rows / size, extra = rows % size;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace oa::dist
