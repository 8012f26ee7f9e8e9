// Progress and cancellation for long librbd operations (flatten, remove,
// copy, resize, rollback). librbd calls Callback() on its own thread; the
// latest (done, total) is delivered to the JS callback through a
// thread-safe function, coalesced so a slow JS thread sees the newest value
// rather than a backlog. Cancellation reads a flag in an Int32Array that the
// JS side sets to 1 on abort: librbd stops when the callback returns non-zero.
//
// The report and the operation's completion wake the event loop separately,
// and the completion may be handled first. So the completion, before it
// settles the Promise, delivers a report still pending itself
// (DeliverPending); the call queued for it then finds nothing pending and
// delivers nothing. The listener sees librbd's newest report before the
// Promise settles, and none after.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <rbd/librbd.h>

#include "common/gate.h"
#include "common/worker.h"

namespace cephrbd {

class Progress {
 public:
  // onProgress and cancelFlag may both be empty/undefined.
  Progress(Napi::Env env, Napi::Value onProgress, Napi::Value cancelFlag);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // librbd_progress_fn_t: pass Progress::Callback and this.
  static int Callback(uint64_t done, uint64_t total, void* self);
  bool Cancelled() const;
  // Worker thread, after the operation: no more progress will be posted.
  void Done();
  // JS thread, after the operation and before its Promise settles: calls the
  // listener with the report not yet delivered, if any.
  void DeliverPending(Napi::Env env);

 private:
  // Outlives the Progress while a thread-safe-function call holds it.
  // One lock for the report and its flag: a delivery takes the newest
  // (done, total) whole and exactly once, and a report made after it is
  // posted anew.
  struct Shared {
    std::mutex mu;
    uint64_t done = 0;
    uint64_t total = 0;
    bool pending = false;  // a report not yet delivered; while set, none is posted
  };
  static void CallJs(Napi::Env env, Napi::Function fn, void*, std::shared_ptr<Shared>* item);
  // Calls fn(done, total) with the pending report, if there is one.
  static void Deliver(napi_env env, napi_value fn, Shared& shared) noexcept;
  using Tsfn = Napi::TypedThreadSafeFunction<void, std::shared_ptr<Shared>, &Progress::CallJs>;

  Tsfn tsfn_;
  bool hasTsfn_ = false;
  Napi::FunctionReference onProgress_;  // for DeliverPending; the TSFN holds its own
  std::shared_ptr<Shared> shared_;
  int32_t* flag_ = nullptr;
  std::shared_ptr<ExecGate> gate_;  // process exit cancels the operation
};

// Runs `call(progressFn, arg)` on a worker thread with progress and cancel;
// a cancelled operation rejects with ECANCELED. The cancel flag is pinned.
Napi::Promise RunWithProgress(Napi::Env env, Handle* handle, ErrorContext ctx,
                              Napi::Value onProgress, Napi::Value cancelFlag,
                              std::function<int(librbd_progress_fn_t, void*)> call);

}  // namespace cephrbd
