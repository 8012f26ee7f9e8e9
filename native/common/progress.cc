#include "common/progress.h"

#include <cerrno>

#include "common/guard.h"

namespace cephrbd {

Progress::Progress(Napi::Env env, Napi::Value onProgress, Napi::Value cancelFlag)
    : shared_(std::make_shared<Shared>()), gate_(AddonData::Get(env)->gate) {
  if (onProgress.IsFunction()) {
    tsfn_ = Tsfn::New(env, onProgress.As<Napi::Function>(), "ceph-rbd:progress", 0, 1);
    hasTsfn_ = true;
    onProgress_ = Napi::Persistent(onProgress.As<Napi::Function>());
  }
  if (cancelFlag.IsTypedArray() &&
      cancelFlag.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array &&
      cancelFlag.As<Napi::TypedArray>().ElementLength() >= 1) {
    auto array = cancelFlag.As<Napi::Int32Array>();
    flag_ = array.Data();
  }
}

Progress::~Progress() { Done(); }

int Progress::Callback(uint64_t done, uint64_t total, void* self) {
  auto* p = static_cast<Progress*>(self);
  if (p->hasTsfn_) {
    bool post = false;
    {
      std::lock_guard<std::mutex> lock(p->shared_->mu);
      p->shared_->done = done;
      p->shared_->total = total;
      post = !p->shared_->pending;
      p->shared_->pending = true;
    }
    // A report that cannot be posted stays pending: DeliverPending delivers it.
    if (post) {
      auto* item = new std::shared_ptr<Shared>(p->shared_);
      if (p->tsfn_.NonBlockingCall(item) != napi_ok) delete item;
    }
  }
  return p->Cancelled() ? -1 : 0;
}

bool Progress::Cancelled() const {
  if (gate_->Closed()) return true;
  return flag_ != nullptr && __atomic_load_n(flag_, __ATOMIC_ACQUIRE) != 0;
}

void Progress::Done() {
  if (!hasTsfn_) return;
  hasTsfn_ = false;
  tsfn_.Release();
}

void Progress::DeliverPending(Napi::Env env) {
  if (onProgress_.IsEmpty()) return;
  napi_value fn = nullptr;
  if (napi_get_reference_value(env, onProgress_, &fn) == napi_ok && fn != nullptr) {
    Deliver(env, fn, *shared_);
  }
}

void Progress::CallJs(Napi::Env env, Napi::Function fn, void*, std::shared_ptr<Shared>* item) {
  std::shared_ptr<Shared> shared = std::move(*item);
  delete item;
  if (env == nullptr) return;
  Deliver(env, fn, *shared);
}

void Progress::Deliver(napi_env env, napi_value fn, Shared& shared) noexcept {
  // A throwing onProgress must not break the operation; it still settles.
  // (And nothing may escape a TSFN callback or a completion: common/guard.h.)
  NoThrow([&] {
    uint64_t done = 0;
    uint64_t total = 0;
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      if (!shared.pending) return;
      shared.pending = false;
      done = shared.done;
      total = shared.total;
    }
    Napi::HandleScope scope(env);
    CallNoThrow(env, fn, {Napi::Number::New(env, static_cast<double>(done)), Napi::Number::New(env, static_cast<double>(total))});
  });
}

Napi::Promise RunWithProgress(Napi::Env env, Handle* handle, ErrorContext ctx,
                              Napi::Value onProgress, Napi::Value cancelFlag,
                              std::function<int(librbd_progress_fn_t, void*)> call) {
  auto progress = std::make_shared<Progress>(env, onProgress, cancelFlag);
  auto run = [progress, call = std::move(call)](NoResult&) {
    int rc = call(&Progress::Callback, progress.get());
    progress->Done();
    if (rc < 0 && progress->Cancelled()) rc = -ECANCELED;
    return rc;
  };
  auto deliverPending = [progress](Napi::Env env) { progress->DeliverPending(env); };
  if (cancelFlag.IsObject()) {
    return RunAsync<NoResult>(env, handle, std::move(ctx), run, nullptr,
                              {cancelFlag.As<Napi::Object>()}, deliverPending);
  }
  return RunAsync<NoResult>(env, handle, std::move(ctx), run, nullptr, {}, deliverPending);
}

}  // namespace cephrbd
