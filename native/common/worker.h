// The one way to run a blocking librados/librbd call: on a libuv worker
// thread, settling a Promise on the JS thread.
//
//   return RunAsync<Result>(env, handle, ctx,
//       [=](Result& out) { return rbd_xxx(...); },     // worker thread: plain C++ only
//       [](Napi::Env env, Result& out) { return ...; }); // JS thread: build the value
//
// The call returns a Ceph rc: negative settles the Promise with a typed
// error; otherwise the converter's value resolves it. While the work runs,
// the handle counts it in flight (close waits for it) and the handle's JS
// object plus any pinned Buffers stay alive (and attached: common/pin.h).
// The completion follows common/guard.h: nothing escapes it, even while the
// environment is being torn down.
#pragma once
#include <napi.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/addon_data.h"
#include "common/errors.h"
#include "common/gate.h"
#include "common/guard.h"
#include "common/handle.h"
#include "common/pin.h"

namespace cephrbd {

struct NoResult {};

template <typename Result>
class CephWorker final : public Napi::AsyncWorker {
 public:
  using Call = std::function<int(Result&)>;
  using Convert = std::function<Napi::Value(Napi::Env, Result&)>;
  // JS thread, after the call and just before the Promise settles (resolved
  // or rejected); not run when teardown cancelled the work before it began.
  using BeforeSettle = std::function<void(Napi::Env)>;

  CephWorker(Napi::Env env, Handle* handle, ErrorContext ctx, Call call, Convert convert)
      : Napi::AsyncWorker(env, "ceph-rbd"),
        deferred_(Napi::Promise::Deferred::New(env)),
        handle_(handle),
        gate_(AddonData::Get(env)->gate),
        ctx_(std::move(ctx)),
        call_(std::move(call)),
        convert_(std::move(convert)) {
    if (handle_ != nullptr) {
      pins_.emplace_back(env, handle_->JsObject());
      handle_->CountWorker(+1);
    }
  }

  void Pin(Napi::Object value) { pins_.emplace_back(Env(), value); }
  void OnBeforeSettle(BeforeSettle fn) { beforeSettle_ = std::move(fn); }
  Napi::Promise Promise() { return deferred_.Promise(); }

  // A C++ exception must not escape: node-addon-api would turn it into
  // OnError(), which settles nothing here (the Promise would hang, the
  // handle would stay busy forever and an idle process would simply exit).
  // E.g. rbd_list2 over a corrupt rbd_directory asks for a buffer the
  // vector cannot allocate (std::length_error / std::bad_alloc).
  // Once process exit began (common/gate.h) the call does not start.
  void Execute() override {
    if (!gate_->Begin()) {
      rc_ = -ESHUTDOWN;
      return;
    }
    try {
      rc_ = call_(result_);
    } catch (const std::bad_alloc&) {
      rc_ = -ENOMEM;
    } catch (const std::length_error&) {
      rc_ = -ENOMEM;
    } catch (...) {
      rc_ = -EIO;
    }
    gate_->End();
  }

  // The JS thread, after Execute() or when teardown cancelled the work. Runs
  // from libuv, so nothing may escape (common/guard.h): an environment that
  // is shutting down (worker.terminate()) makes every settle throw, and its
  // result is dropped; the handle is left either way, so the teardown's
  // cleanup hook finds it idle and releases it.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      if (beforeSettle_) NoThrow([&] { beforeSettle_(env); });
      NoThrow([&] { Settle(env); });
    }
    if (handle_ != nullptr) {
      NoThrow([&] {
        handle_->CountWorker(-1);
        handle_->Leave(env);
      });
    }
    NoThrow([&] {
      Napi::HandleScope scope(env);
      pins_.clear();
    });
    delete this;  // ~AsyncWorker: napi_delete_async_work, which does not throw
  }

 private:
  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (rc_ < 0) {
      deferred_.Reject(MakeCephError(env, rc_, ctx_));
      return;
    }
    try {
      deferred_.Resolve(convert_ ? convert_(env, result_) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  Napi::Promise::Deferred deferred_;
  Handle* handle_;
  std::shared_ptr<ExecGate> gate_;
  ErrorContext ctx_;
  Call call_;
  Convert convert_;
  BeforeSettle beforeSettle_;
  Result result_{};
  int rc_ = 0;
  std::vector<cephrbd::Pin> pins_;
};

// A rejected Promise for a call on a closing/closed handle.
inline Napi::Promise RejectClosed(Napi::Env env, const ErrorContext& ctx, Handle* handle) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeClosedError(env, ctx.op, handle->Kind()));
  return deferred.Promise();
}

// Queues `call` on a worker thread. `pins` are Buffers (or other objects)
// whose memory the call uses; they stay referenced until it settles.
// `beforeSettle`, when given, runs on the JS thread once the call returned,
// before the Promise settles either way.
template <typename Result>
Napi::Promise RunAsync(Napi::Env env, Handle* handle, ErrorContext ctx,
                       typename CephWorker<Result>::Call call,
                       typename CephWorker<Result>::Convert convert,
                       std::initializer_list<Napi::Object> pins = {},
                       typename CephWorker<Result>::BeforeSettle beforeSettle = nullptr) {
  if (handle != nullptr && !handle->Enter()) return RejectClosed(env, ctx, handle);
  auto* worker = new CephWorker<Result>(env, handle, std::move(ctx), std::move(call),
                                        std::move(convert));
  for (const Napi::Object& pin : pins) worker->Pin(pin);
  if (beforeSettle) worker->OnBeforeSettle(std::move(beforeSettle));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// The common case: a call whose only result is its rc (resolves undefined).
inline Napi::Promise RunAsyncVoid(Napi::Env env, Handle* handle, ErrorContext ctx,
                                  std::function<int()> call,
                                  std::initializer_list<Napi::Object> pins = {}) {
  return RunAsync<NoResult>(
      env, handle, std::move(ctx), [call = std::move(call)](NoResult&) { return call(); },
      nullptr, pins);
}

// Resolves with the (non-negative) rc as a Number, e.g. bytes read/written.
inline Napi::Promise RunAsyncCount(Napi::Env env, Handle* handle, ErrorContext ctx,
                                   std::function<int64_t()> call,
                                   std::initializer_list<Napi::Object> pins = {}) {
  return RunAsync<int64_t>(
      env, handle, std::move(ctx),
      [call = std::move(call)](int64_t& out) {
        out = call();
        return out < 0 ? static_cast<int>(out) : 0;
      },
      [](Napi::Env env, int64_t& out) { return Napi::Number::New(env, static_cast<double>(out)); },
      pins);
}

// A second handle an operation uses besides the one RunAsync tracks (clone:
// parent and child IoCtx; Image.copy/deepCopy: the destination IoCtx).
// RunAsync Enter()s, pins and Leave()s one handle; this gives the other the
// same treatment:
// - Enter() on the JS thread before anything is queued; nullptr when the
//   handle is closing/closed (the caller then returns RejectClosed);
// - while the token lives, the handle's close() is parked (in-flight count
//   > 0) and its JS object is pinned, so its rados_ioctx_t outlives the work;
// - the caller captures the token in the worker's call lambda, so it dies
//   with the worker, on the JS thread, after the Promise settled (or at once
//   if RunAsync rejected because the first handle was closed); dying, it
//   Leave()s, which may complete a parked close. The worker never touches it.
inline std::shared_ptr<void> EnterSecondHandle(Napi::Env env, Handle* handle) {
  struct Token {
    Napi::Env env;
    Handle* handle;
    Napi::ObjectReference pin;
    ~Token() {
      NoThrow([this] {
        handle->CountWorker(-1);
        handle->Leave(env);
      });
    }  // then `pin` is released
  };
  if (!handle->Enter()) return nullptr;
  handle->CountWorker(+1);
  // Built in place: a moved-from temporary Token would Leave() twice.
  return std::shared_ptr<void>(new Token{env, handle, Napi::Persistent(handle->JsObject())});
}

}  // namespace cephrbd
