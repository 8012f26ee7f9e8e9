// Watch/notify on RADOS objects.
//
// A RadosWatch is a Handle under its IoCtx (closing the IoCtx closes it
// first). librados calls WatchCb/ErrorCb on its own threads; each event goes
// to the JS thread through one thread-safe function per watch, as aio.cc and
// progress.cc do. Closing: TakeRelease() (JS thread) marks the watch closed,
// so no queued event reaches JS any more; the release then runs
// rados_unwatch2 and rados_watch_flush on a worker (after which librados
// calls back no more) and only then releases the thread-safe function and
// frees the callback state. An environment being torn down finalizes the
// thread-safe function itself: events after that are dropped quietly.
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/addon_data.h"
#include "common/args.h"
#include "common/guard.h"
#include "common/worker.h"
#include "common/wrap.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

const napi_type_tag kWatchTag = {0x6b3f2a1c9d4e4f05ULL, 0xa1b2c3d4e5f6071cULL};

struct WatchEvent {
  bool isError = false;
  uint64_t notifyId = 0;
  uint64_t cookie = 0;
  uint64_t notifierId = 0;
  std::string payload;
  int err = 0;
};

struct WatchShared;
void CallJs(Napi::Env env, Napi::Function fn, WatchShared* ctx, WatchEvent* ev);
using WatchTsfn = Napi::TypedThreadSafeFunction<WatchShared, WatchEvent, CallJs>;

// Shared by librados' callback threads, the JS thread and the release.
struct WatchShared {
  std::mutex mu;
  bool released = false;   // the release gave the tsfn back
  bool finalized = false;  // Node finalized the tsfn (environment teardown)
  std::atomic<bool> closed{false};
  WatchTsfn tsfn;
  ErrorContext ctx;  // for watch errors

  // Any thread: hands an event over unless the tsfn is gone.
  void Post(WatchEvent* ev) {
    std::lock_guard<std::mutex> lock(mu);
    if (released || finalized || closed.load() || tsfn.NonBlockingCall(ev) != napi_ok) delete ev;
  }
  // Any thread, once: librados will not call back any more.
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    if (released || finalized) return;
    released = true;
    tsfn.Release();
  }
};

void CallJs(Napi::Env env, Napi::Function fn, WatchShared* shared, WatchEvent* ev) {
  std::unique_ptr<WatchEvent> event(ev);
  if (env == nullptr || shared == nullptr || shared->closed.load()) return;  // torn down or closed: dropped
  // A throwing listener is the listener's problem; the watch stays up.
  NoThrow([&] {
    Napi::HandleScope scope(env);
    if (event->isError) {
      CallNoThrow(env, fn, {Napi::String::New(env, "error"), MakeCephError(env, event->err, shared->ctx)});
    } else {
      CallNoThrow(env, fn,
                  {Napi::String::New(env, "notify"), Napi::BigInt::New(env, event->notifyId),
                   Napi::BigInt::New(env, event->notifierId), Napi::BigInt::New(env, event->cookie),
                   Napi::Buffer<char>::Copy(env, event->payload.data(), event->payload.size())});
    }
  });
}

// JS thread, once Node is done with the tsfn (released, or the environment
// is torn down). `owner` keeps the shared state alive until then.
void Finalize(Napi::Env, std::shared_ptr<WatchShared>* owner, WatchShared* shared) {
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->finalized = true;
  }
  delete owner;
}

// librados' threads.
void WatchCb(void* arg, uint64_t notifyId, uint64_t cookie, uint64_t notifierId, void* data, size_t len) {
  auto* shared = static_cast<std::shared_ptr<WatchShared>*>(arg)->get();
  try {
    auto* ev = new WatchEvent();
    ev->notifyId = notifyId;
    ev->cookie = cookie;
    ev->notifierId = notifierId;
    if (data != nullptr) ev->payload.assign(static_cast<const char*>(data), len);
    shared->Post(ev);
  } catch (...) {
  }
}

void ErrorCb(void* arg, uint64_t cookie, int err) {
  auto* shared = static_cast<std::shared_ptr<WatchShared>*>(arg)->get();
  try {
    auto* ev = new WatchEvent();
    ev->isError = true;
    ev->cookie = cookie;
    ev->err = err;
    shared->Post(ev);
  } catch (...) {
  }
}

struct WatchPayload {
  IoCtx* io;
  uint64_t cookie;
  std::string oid;
  std::shared_ptr<WatchShared>* arg;  // what librados holds
};

class RadosWatch : public Napi::ObjectWrap<RadosWatch>, public Handle {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RadosWatch",
                       {InstanceMethod<&RadosWatch::Close>("close"), InstanceMethod<&RadosWatch::Check>("check"),
                        InstanceAccessor<&RadosWatch::Cookie>("cookie"), InstanceAccessor<&RadosWatch::Oid>("oid"),
                        InstanceAccessor<&RadosWatch::State>("state")});
  }

  explicit RadosWatch(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<RadosWatch>(info), Handle(info.Env(), "watch") {
    if (!IsFromAddon(info)) ThrowType(info.Env(), "RadosWatch cannot be constructed directly; use ioctx.watch()");
    std::unique_ptr<WatchPayload> p(info[1].As<Napi::External<WatchPayload>>().Data());
    io_ = p->io->io();
    cookie_ = p->cookie;
    oid_ = p->oid;
    arg_ = p->arg;
    parentRef_ = Napi::Persistent(p->io->JsObject());
    TagObject(info.Env(), Value(), kWatchTag);
    AttachTo(p->io);
    // An open watch stays alive without a JS reference to it (like a
    // listening server): only close() (or its IoCtx's) ends it.
    Ref();
  }
  ~RadosWatch() override { ForgetOnCollect(); }
  Napi::Object JsObject() override { return Value(); }

 private:
  // Implements: rados_unwatch2, rados_watch_flush, rados_ioctx_get_cluster
  std::function<void()> TakeRelease() override {
    std::shared_ptr<WatchShared>* arg = arg_;
    arg_ = nullptr;
    if (arg == nullptr) return nullptr;
    (*arg)->closed.store(true);  // from now on no event reaches JS
    rados_ioctx_t io = io_;
    uint64_t cookie = cookie_;
    return [io, cookie, arg] {
      rados_unwatch2(io, cookie);
      rados_watch_flush(rados_ioctx_get_cluster(io));  // in-flight callbacks have returned
      (*arg)->Release();
      delete arg;
    };
  }
  void OnClosed() override {
    parentRef_.Reset();
    Unref();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) { return CloseHandle(info.Env(), this); }
  // check() -> ms since the watch was last confirmed; rejects (ENOTCONN...) when it broke.
  // Implements: rados_watch_check (local state; does not block)
  Napi::Value Check(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!IsOpen()) ThrowClosed(env, "Watch.check", this);
    int rc = rados_watch_check(io_, cookie_);
    if (rc < 0) {
      ErrorContext ctx = (*arg_)->ctx;
      ctx.op = "Watch.check";
      throw Napi::Error(env, MakeCephError(env, rc, ctx));
    }
    return Napi::Number::New(env, rc);
  }
  Napi::Value Cookie(const Napi::CallbackInfo& info) { return Napi::BigInt::New(info.Env(), cookie_); }
  Napi::Value Oid(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), oid_); }
  Napi::Value State(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), StateName()); }

  rados_ioctx_t io_ = nullptr;
  uint64_t cookie_ = 0;
  std::string oid_;
  std::shared_ptr<WatchShared>* arg_ = nullptr;
  Napi::ObjectReference parentRef_;
};

// watch(ioctx, oid, timeoutSeconds, onEvent) -> Promise<RadosWatch>.
// onEvent('notify', notifyId, notifierId, cookie, payload) or onEvent('error', err)
// runs on the JS thread; the caller acks each notify (notifyAck).
// Implements: rados_watch3, rados_unwatch2
Napi::Value Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t timeout = ArgU64(info, 2, "timeoutSeconds");
  if (timeout > UINT32_MAX) throw Napi::RangeError::New(env, "timeoutSeconds is out of range");
  if (!info[3].IsFunction()) ThrowType(env, "Expected a function for onEvent");
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  ErrorContext ctx = ObjectContext(*io, "IoCtx.watch", oid);
  if (!io->IsOpen()) return RejectClosed(env, ctx, io);

  auto shared = std::make_shared<WatchShared>();
  shared->ctx = ObjectContext(*io, "Watch", oid);
  shared->tsfn = WatchTsfn::New(env, info[3].As<Napi::Function>(), "ceph-rbd:watch", 0, 1, shared.get(), Finalize,
                                new std::shared_ptr<WatchShared>(shared));
  auto* arg = new std::shared_ptr<WatchShared>(shared);
  rados_ioctx_t handle = io->io();
  struct Out {
    uint64_t cookie = 0;
    bool ok = false;
  };
  return RunAsync<Out>(
      env, io, ctx,
      [handle, oid, timeout, arg](Out& out) {
        int rc = rados_watch3(handle, oid.c_str(), &out.cookie, WatchCb, ErrorCb, static_cast<uint32_t>(timeout), arg);
        if (rc < 0) {
          rados_watch_flush(rados_ioctx_get_cluster(handle));
          (*arg)->Release();
          delete arg;
          return rc;
        }
        out.ok = true;
        return 0;
      },
      [io, oid, arg, ctor](Napi::Env e, Out& out) -> Napi::Value {
        // A context that began closing meanwhile closes this child too.
        auto* payload = new WatchPayload{io, out.cookie, oid, arg};
        return NewFromAddon(e, *ctor, payload);
      });
}

// notifyAck(ioctx, oid, notifyId, cookie, reply): answers one notify.
// Implements: rados_notify_ack
Napi::Value NotifyAck(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t notifyId = ArgU64(info, 2, "notifyId");
  uint64_t cookie = ArgU64(info, 3, "cookie");
  auto reply = ArgBuffer(info, 4, "reply");
  std::string bytes(reinterpret_cast<const char*>(reply.Data()), reply.Length());
  rados_ioctx_t handle = io->io();
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "Watch.ack", oid), [handle, oid, notifyId, cookie, bytes] {
    return rados_notify_ack(handle, oid.c_str(), notifyId, cookie, bytes.data(), static_cast<unsigned>(bytes.size()));
  });
}

struct NotifyReply {
  struct Ack {
    uint64_t notifierId;
    uint64_t cookie;
    std::string payload;
  };
  std::vector<Ack> acks;
  std::vector<std::pair<uint64_t, uint64_t>> timeouts;
};

// notify(ioctx, oid, payload, timeoutMs) -> { acks: [{ notifierId, cookie, payload }], timeouts: [...] }.
// Watchers that did not answer in time are listed in `timeouts` (the call
// itself then answers ETIMEDOUT; the reply is still complete).
// Implements: rados_notify2, rados_decode_notify_response, rados_free_notify_response, rados_buffer_free
Napi::Value Notify(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  auto payload = ArgBuffer(info, 2, "payload");
  uint64_t timeoutMs = ArgU64(info, 3, "timeoutMs");
  if (payload.Length() > static_cast<size_t>(INT32_MAX)) throw Napi::RangeError::New(info.Env(), "payload is too large");
  std::string bytes(reinterpret_cast<const char*>(payload.Data()), payload.Length());
  rados_ioctx_t handle = io->io();
  return RunAsync<NotifyReply>(
      info.Env(), io, ObjectContext(*io, "IoCtx.notify", oid),
      [handle, oid, bytes, timeoutMs](NotifyReply& out) {
        char* reply = nullptr;
        size_t replyLen = 0;
        int rc = rados_notify2(handle, oid.c_str(), bytes.data(), static_cast<int>(bytes.size()), timeoutMs, &reply,
                               &replyLen);
        if (reply == nullptr) return rc < 0 ? rc : 0;
        notify_ack_t* acks = nullptr;
        size_t nAcks = 0;
        notify_timeout_t* timeouts = nullptr;
        size_t nTimeouts = 0;
        int drc = rados_decode_notify_response(reply, replyLen, &acks, &nAcks, &timeouts, &nTimeouts);
        rados_buffer_free(reply);
        if (drc < 0) return drc;
        for (size_t k = 0; k < nAcks; ++k) {
          out.acks.push_back({acks[k].notifier_id, acks[k].cookie,
                              acks[k].payload == nullptr ? std::string() : std::string(acks[k].payload, acks[k].payload_len)});
        }
        for (size_t k = 0; k < nTimeouts; ++k) out.timeouts.emplace_back(timeouts[k].notifier_id, timeouts[k].cookie);
        rados_free_notify_response(acks, nAcks, timeouts);
        return (rc < 0 && rc != -ETIMEDOUT) ? rc : 0;
      },
      [](Napi::Env env, NotifyReply& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        Napi::Array acks = Napi::Array::New(env, r.acks.size());
        for (size_t k = 0; k < r.acks.size(); ++k) {
          Napi::Object a = Napi::Object::New(env);
          a.Set("notifierId", Napi::BigInt::New(env, r.acks[k].notifierId));
          a.Set("cookie", Napi::BigInt::New(env, r.acks[k].cookie));
          a.Set("payload", Napi::Buffer<char>::Copy(env, r.acks[k].payload.data(), r.acks[k].payload.size()));
          acks.Set(static_cast<uint32_t>(k), a);
        }
        Napi::Array timeouts = Napi::Array::New(env, r.timeouts.size());
        for (size_t k = 0; k < r.timeouts.size(); ++k) {
          Napi::Object t = Napi::Object::New(env);
          t.Set("notifierId", Napi::BigInt::New(env, r.timeouts[k].first));
          t.Set("cookie", Napi::BigInt::New(env, r.timeouts[k].second));
          timeouts.Set(static_cast<uint32_t>(k), t);
        }
        o.Set("acks", acks);
        o.Set("timeouts", timeouts);
        return o;
      });
}

// watchFlush(cluster): waits until every watch callback already queued has run.
// Implements: rados_watch_flush
Napi::Value WatchFlush(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  rados_t cluster = c->cluster();
  return RunAsyncVoid(info.Env(), c, c->Ctx("Rados.watchFlush"), [cluster] { return rados_watch_flush(cluster); });
}

}  // namespace

void InitRadosWatch(Napi::Env env, Napi::Object exports, Napi::Object ns) {
  Napi::Function ctor = RadosWatch::Define(env);
  exports.Set("RadosWatch", ctor);
  // Lives as long as the environment (like AddonData's constructors).
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));
  ns.Set("watch", Napi::Function::New(env, Watch, "watch", ref));
  ns.Set("notifyAck", Napi::Function::New(env, NotifyAck, "notifyAck"));
  ns.Set("notify", Napi::Function::New(env, Notify, "notify"));
  ns.Set("watchFlush", Napi::Function::New(env, WatchFlush, "watchFlush"));
}

}  // namespace cephrbd
