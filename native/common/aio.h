// librbd aio completions resolved back on the JS thread, without a worker
// thread per operation: librbd calls OnComplete on its own finisher thread,
// which hands the operation to one thread-safe function per environment.
#pragma once
#include <napi.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include <atomic>
#include <functional>
#include <vector>

#include "common/errors.h"
#include "common/handle.h"
#include "common/pin.h"
#include "common/submit_queue.h"

namespace cephrbd {

// Something finished off the JS thread and handed to it: an aio operation,
// or a step of background work (common/background_pool.h).
class JsDelivery {
 public:
  virtual ~JsDelivery() = default;
  // JS thread; may delete this. Never throws (common/guard.h).
  virtual void Deliver(Napi::Env env) = 0;
};

class AioDispatcher {
 public:
  explicit AioDispatcher(Napi::Env env);
  // JS thread: an operation was submitted / settled. The dispatcher keeps
  // the event loop alive only while operations are outstanding.
  void Begin(Napi::Env env);
  void End(Napi::Env env);
  // Any thread: deliver a finished operation to the JS thread.
  void Post(JsDelivery* item);
  // Environment teardown: later completions are dropped.
  void Shutdown();

 private:
  static void CallJs(Napi::Env env, Napi::Function, void*, JsDelivery* item);
  using Tsfn = Napi::TypedThreadSafeFunction<void, JsDelivery, &AioDispatcher::CallJs>;
  Tsfn tsfn_;
  int outstanding_ = 0;
  std::atomic<bool> shutdown_{false};
};

// One in-flight librbd or librados aio operation. Settle() runs on the JS thread and
// resolves with the operation's return value (bytes read), or ResolveWith().
class AioOp final : public JsDelivery {
 public:
  AioOp(Napi::Env env, Handle* handle, ErrorContext ctx);
  void Deliver(Napi::Env env) override { Settle(env); }

  // Submits with `submit(completion)`; on a submit error settles at once.
  // Returns the Promise. The handle must already have been Enter()ed.
  // With `queue` (an image's), the submission waits behind the operations
  // queued there, and `offThread` sends it to the queue in any case
  // (common/submit_queue.h).
  template <typename Submit>
  Napi::Promise Start(Napi::Env env, Submit submit, SubmitQueue* queue = nullptr, bool offThread = false);
  // The same for a librados operation (rados_completion_t).
  template <typename Submit>
  Napi::Promise StartRados(Napi::Env env, Submit submit);

  // Optional: builds the settled value on the JS thread from the rc and (for
  // librados) the object version; what it throws (Napi::Error) rejects. When
  // set it is called for every rc, negative ones included.
  using Convert = std::function<Napi::Value(Napi::Env, int64_t rc, uint64_t version)>;
  void ConvertWith(Convert convert) { convert_ = std::move(convert); }

  // Keeps `value` alive, and its memory attached, until the op settles.
  void Pin(Napi::Object value) { pins_.emplace_back(deferred_.Env(), value); }
  // librbd's aio writes complete with 0: resolve them with the byte count.
  void ResolveWith(int64_t value) { resolveWith_ = value; }

 protected:
  Napi::Promise::Deferred deferred_;

 private:
  static void OnComplete(rbd_completion_t c, void* arg);
  // Creates the completion and submits: 0, or the error (nothing in flight).
  // Any thread: the JS thread, or a SubmitQueue worker.
  template <typename Submit>
  int SubmitNow(Submit& submit);
  static void OnRadosComplete(rados_completion_t c, void* arg);
  void Settle(Napi::Env env);

  AioDispatcher* dispatcher_;
  bool submitted_ = false;
  Handle* handle_;
  ErrorContext ctx_;
  std::vector<cephrbd::Pin> pins_;
  ssize_t rc_ = 0;
  int64_t resolveWith_ = -1;
  uint64_t version_ = 0;
  Convert convert_;
};

AioDispatcher* DispatcherFor(Napi::Env env);

template <typename Submit>
Napi::Promise AioOp::Start(Napi::Env env, Submit submit, SubmitQueue* queue, bool offThread) {
  Napi::Promise promise = deferred_.Promise();
  dispatcher_->Begin(env);
  submitted_ = true;
  if (queue != nullptr && (offThread || queue->Busy())) {
    queue->Defer(env, [this, submit]() mutable {
      int rc = SubmitNow(submit);  // once submitted, only OnComplete may touch rc_
      if (rc < 0) {
        rc_ = rc;
        dispatcher_->Post(this);  // settles on the JS thread
      }
    });
    return promise;
  }
  int rc = SubmitNow(submit);
  if (rc < 0) {
    rc_ = rc;
    Settle(env);  // deletes this
  }
  return promise;
}

template <typename Submit>
int AioOp::SubmitNow(Submit& submit) {
  rbd_completion_t completion = nullptr;
  int rc = rbd_aio_create_completion(this, &AioOp::OnComplete, &completion);
  if (rc < 0) return rc;
  rc = submit(completion);
  if (rc >= 0) return 0;  // OnComplete will fire
  rbd_aio_release(completion);
  return rc;
}

template <typename Submit>
Napi::Promise AioOp::StartRados(Napi::Env env, Submit submit) {
  Napi::Promise promise = deferred_.Promise();
  rados_completion_t completion = nullptr;
  int rc = rados_aio_create_completion2(this, &AioOp::OnRadosComplete, &completion);
  if (rc == 0) {
    dispatcher_->Begin(env);
    submitted_ = true;
    rc = submit(completion);
    if (rc >= 0) return promise;  // OnRadosComplete will fire
    rados_aio_release(completion);
  }
  rc_ = rc;
  Settle(env);  // deletes this
  return promise;
}

}  // namespace cephrbd
