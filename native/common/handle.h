// Lifetime of a Ceph handle (cluster, I/O context, image): Open -> Closing -> Closed.
//
// All bookkeeping runs on the JS thread, so no locks are needed:
// - every operation Enter()s before it is queued and Leave()s when it settles;
// - close() parks until the in-flight count is zero and every child is closed,
//   then releases the native resource on a worker thread (never on the JS thread);
// - a child holds a strong reference to its parent's JS object, so a parent
//   can never be collected or released before its children.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cephrbd {

class Handle {
 public:
  enum class State { Open, Closing, Closed };
  using Done = std::function<void(Napi::Env)>;

  Handle(Napi::Env env, const char* kind);
  virtual ~Handle();

  const char* Kind() const { return kind_; }
  State state() const { return state_; }
  bool IsOpen() const { return state_ == State::Open; }
  const char* StateName() const {
    return state_ == State::Open ? "open" : state_ == State::Closing ? "closing" : "closed";
  }
  int inflight() const { return inflight_; }
  // Of inflight(): calls on worker threads (common/worker.h) rather than
  // librbd aio (rbd_close waits for aio itself, not for those).
  void CountWorker(int delta) { workers_ += delta; }
  int workers() const { return workers_; }
  // A worker thread may be using the native resource (a call or the close).
  bool BusyOnWorker() const { return workers_ > 0 || releasing_; }

  // A native release handed to a close worker, taken by whoever runs first:
  // the worker, or process exit when the worker has not started yet.
  struct PendingRelease {
    std::atomic<bool> taken{false};
    std::function<void()> fn;
    void Run() {
      if (!taken.exchange(true) && fn) fn();
    }
  };

  // Starts an operation; false when the handle is closing or closed.
  bool Enter();
  // Ends an operation started by Enter(); may complete a parked close.
  void Leave(Napi::Env env);

  // Closes children first, waits for in-flight operations, then releases.
  // `done` runs on the JS thread once the handle is closed. A second call on
  // a closed handle calls `done` at once (close is idempotent).
  void RequestClose(Napi::Env env, Done done);

  // The JS wrapper object (for pinning it while work is in flight).
  virtual Napi::Object JsObject() = 0;

  bool HasChildren() const { return !children_.empty(); }

  // Environment cleanup: releases the native resource on this thread (there
  // is no JS thread left to block).
  void ReleaseForTeardown();

 protected:
  // Moves the native resource out of the handle into a closure that frees it
  // (rbd_close, rados_ioctx_destroy, rados_shutdown). The closure runs on a
  // worker thread (close), the reaper thread (GC) or at teardown.
  virtual std::function<void()> TakeRelease() = 0;
  // Called on the JS thread once the handle is closed (drop the parent ref).
  virtual void OnClosed() {}

  // Links this handle under `parent` (the wrapper keeps the parent's JS object alive).
  void AttachTo(Handle* parent);
  // Called from the wrapper's destructor (GC or teardown) when the handle was
  // never closed: the native release goes to the reaper thread, never the JS thread.
  void ForgetOnCollect();

 private:
  void MaybeRelease(Napi::Env env);
  void Finish(Napi::Env env);
  void Unlink();

  Napi::Env env_;
  const char* kind_;
  State state_ = State::Open;
  int inflight_ = 0;
  int workers_ = 0;
  bool releasing_ = false;
  std::shared_ptr<PendingRelease> pending_;
  Handle* parent_ = nullptr;
  std::set<Handle*> children_;
  std::vector<Done> closeWaiters_;
};

// Runs native releases of collected handles, in the order they were queued,
// on one background thread (so GC never blocks on rbd_close).
void ReapLater(std::function<void()> release);

// Process exit and environment teardown: releases every handle still open,
// children first, including handles with calls in flight: new calls are
// refused, progress-reporting calls are cancelled, and the calls already
// running on worker threads get up to `waitMs` to return (librbd aio is
// waited for by rbd_close). Only a handle whose call is still running after
// that is left to the process's end (its image watch then times out).
void ReleaseAllHandles(Napi::Env env, int waitMs);

// How long process exit waits for running calls (ms).
constexpr int kExitWaitMs = 3000;

}  // namespace cephrbd
