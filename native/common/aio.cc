#include "common/aio.h"

#include <cerrno>

#include "common/addon_data.h"
#include "common/guard.h"

namespace cephrbd {

AioDispatcher::AioDispatcher(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "ceph-rbd:aio", 0, 1);
  tsfn_.Unref(env);  // idle: do not keep the process alive
}

void AioDispatcher::Begin(Napi::Env env) {
  if (shutdown_.load()) return;  // released: no Ref()/Unref() any more
  if (outstanding_++ == 0) tsfn_.Ref(env);
}

void AioDispatcher::End(Napi::Env env) {
  if (shutdown_.load()) return;
  if (--outstanding_ == 0) tsfn_.Unref(env);
}

void AioDispatcher::Post(JsDelivery* item) {
  if (shutdown_.load(std::memory_order_acquire)) return;  // teardown: dropped
  if (tsfn_.NonBlockingCall(item) != napi_ok) return;  // closing: dropped
}

void AioDispatcher::Shutdown() {
  if (shutdown_.exchange(true)) return;
  tsfn_.Release();
}

// From libuv (common/guard.h: nothing escapes). env is null when the
// function is being torn down: the item is dropped with it.
void AioDispatcher::CallJs(Napi::Env env, Napi::Function, void*, JsDelivery* item) {
  if (env == nullptr) return;
  item->Deliver(env);
}

AioDispatcher* DispatcherFor(Napi::Env env) { return AddonData::Get(env)->aio; }

AioOp::AioOp(Napi::Env env, Handle* handle, ErrorContext ctx)
    : deferred_(Napi::Promise::Deferred::New(env)),
      dispatcher_(DispatcherFor(env)),
      handle_(handle),
      ctx_(std::move(ctx)) {
  pins_.reserve(2);
  if (handle_ != nullptr) pins_.emplace_back(env, handle_->JsObject());
}

// librbd's finisher thread: read the result, free the completion, hand over.
void AioOp::OnComplete(rbd_completion_t c, void* arg) {
  auto* op = static_cast<AioOp*>(arg);
  op->rc_ = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  op->dispatcher_->Post(op);
}

// librados' finisher thread: the same hand-over for a rados completion.
// Implements: rados_aio_create_completion2, rados_aio_get_return_value,
// rados_aio_get_version, rados_aio_release
void AioOp::OnRadosComplete(rados_completion_t c, void* arg) {
  auto* op = static_cast<AioOp*>(arg);
  op->rc_ = rados_aio_get_return_value(c);
  op->version_ = rados_aio_get_version(c);
  rados_aio_release(c);
  op->dispatcher_->Post(op);
}

// Never throws (common/guard.h): in an environment that is shutting down
// the settle fails and is dropped, the bookkeeping still runs.
void AioOp::Settle(Napi::Env env) {
  NoThrow([&] {
    Napi::HandleScope scope(env);
    if (convert_) {
      try {
        deferred_.Resolve(convert_(env, rc_, version_));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      } catch (...) {
        deferred_.Reject(MakeCephError(env, -ENOMEM, ctx_));
      }
    } else if (rc_ < 0) {
      deferred_.Reject(MakeCephError(env, static_cast<int>(rc_), ctx_));
    } else {
      double value = static_cast<double>(resolveWith_ >= 0 ? resolveWith_ : rc_);
      deferred_.Resolve(Napi::Number::New(env, value));
    }
  });
  if (submitted_) NoThrow([&] { dispatcher_->End(env); });
  if (handle_ != nullptr) NoThrow([&] { handle_->Leave(env); });
  NoThrow([&] {
    Napi::HandleScope scope(env);
    pins_.clear();
  });
  delete this;
}

}  // namespace cephrbd
