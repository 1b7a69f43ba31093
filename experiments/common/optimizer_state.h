#pragma once
// The optimiser state that lets a run resume, kept beside its checkpoint.
//
// A run that can be killed at any instant writes two files per checkpoint: the optimiser
// state (momentum buffers) and the checkpoint (the model and the progress it names). Each is
// written atomically, but a kill can land between the two. So the state goes to a file named
// by a stamp, <dir>/optimizer-<stamp>.safetensors, where the stamp is the progress the next
// checkpoint will name (its epoch, or its count of adversarial examples); it is written before
// that checkpoint, and the states of other stamps are removed only after it. Whichever
// checkpoint is on disk, the state it names is there too.
#include <filesystem>
#include <functional>
#include <string>

#include "framework/optim/optimizer.h"

namespace oa::experiments {

// Writes the state under `stamp`, then runs write_checkpoint (which must write the checkpoint
// naming `stamp`), then removes the states of every other stamp in `dir`.
void save_with_optimizer_state(const std::filesystem::path& dir, const std::string& stamp,
                               const optim::Optimizer& optimizer, const std::function<void()>& write_checkpoint);

// Loads the state of `stamp` into the optimiser; `checkpoint` (the file naming the stamp) is
// named in the error when it is missing.
void load_optimizer_state(const std::filesystem::path& dir, const std::string& stamp, optim::Optimizer& optimizer,
                          const std::filesystem::path& checkpoint);

}  // namespace oa::experiments
