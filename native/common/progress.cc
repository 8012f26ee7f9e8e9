#include "common/progress.h"

#include <cerrno>

#include "common/guard.h"

namespace cephrbd {

Progress::Progress(Napi::Env env, Napi::Value onProgress, Napi::Value cancelFlag)
    : shared_(std::make_shared<Shared>()), gate_(AddonData::Get(env)->gate) {
  if (onProgress.IsFunction()) {
    tsfn_ = Tsfn::New(env, onProgress.As<Napi::Function>(), "ceph-rbd:progress", 0, 1);
    hasTsfn_ = true;
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
    p->shared_->done.store(done, std::memory_order_relaxed);
    p->shared_->total.store(total, std::memory_order_relaxed);
    if (!p->shared_->posted.exchange(true)) {
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

void Progress::CallJs(Napi::Env env, Napi::Function fn, void*, std::shared_ptr<Shared>* item) {
  std::shared_ptr<Shared> shared = std::move(*item);
  delete item;
  if (env == nullptr) return;
  shared->posted.store(false);
  uint64_t done = shared->done.load(std::memory_order_relaxed);
  uint64_t total = shared->total.load(std::memory_order_relaxed);
  // A throwing onProgress must not break the operation; it still settles.
  // (And nothing may escape a TSFN callback: common/guard.h.)
  NoThrow([&] {
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
  if (cancelFlag.IsObject()) {
    return RunAsync<NoResult>(env, handle, std::move(ctx), run, nullptr,
                              {cancelFlag.As<Napi::Object>()});
  }
  return RunAsync<NoResult>(env, handle, std::move(ctx), run, nullptr);
}

}  // namespace cephrbd
