// Image update watches (rbd_update_watch: header changes such as resize,
// snapshot create, feature or metadata updates, by this or any client) and
// quiesce watches (rbd_quiesce_watch: asked to quiesce I/O before a
// snapshot). librbd calls back on its own threads; each event reaches the
// JS callback on the JS thread through one thread-safe function per watch.
//
// Lifetime of a watch (WatchRecord):
// - JS thread: created with an unref'd thread-safe function (a watch does
//   not keep the process alive, as an open image does not);
// - registered with librbd on a worker; its unwatch is hooked into the
//   image's close (Image::AddWatchHook), so rbd_close never runs with the
//   watch still registered and a closed image never calls back;
// - unwatch() (or close) first marks it inactive on the JS thread (events
//   already queued are dropped), then rbd_*_unwatch runs on a worker
//   (librbd waits for callbacks in flight), then the function is released;
// - the record is freed once both librbd and the thread-safe function are
//   done with it. A watch whose image is garbage-collected unclosed is
//   unregistered by the reaper; its function is released at environment
//   teardown (it holds no reference to the image).
// No C++ exception leaves a librbd callback, and a throwing JS callback
// cannot break the watch (lib/ re-raises its error asynchronously).
//
// Quiesce: librbd waits for rbd_quiesce_complete after every 'quiesce'
// event, and rbd_quiesce_unwatch (hence close, exit and a terminated
// worker's teardown) waits for that too. The record counts the quiesces not
// yet completed: an event that never reaches JS (dropped: closed, torn
// down) is completed here with -ESHUTDOWN, and so is every one JS has not
// answered when the watch is unwatched; a late answer from JS finds nothing
// pending and is a no-op (librbd asserts on a completion it did not ask for).
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <utility>

#include "common/args.h"
#include "common/guard.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

namespace {

enum Event : int { kUpdate = 0, kQuiesce = 1, kUnquiesce = 2 };

class WatchRecord {
 public:
  static void CallJs(Napi::Env env, Napi::Function fn, WatchRecord* self, int* event);
  static void Finalize(Napi::Env, void*, WatchRecord* self);
  using Tsfn = Napi::TypedThreadSafeFunction<WatchRecord, int, &WatchRecord::CallJs>;

  WatchRecord(Napi::Env env, Napi::Function fn, bool quiesce, rbd_image_t img) : quiesce_(quiesce), img_(img) {
    tsfn_ = Tsfn::New(env, fn, "ceph-rbd:watch", 0, 1, this, &WatchRecord::Finalize, static_cast<void*>(nullptr));
    tsfn_.Unref(env);
  }

  // librbd's threads.
  static void OnUpdate(void* arg) { static_cast<WatchRecord*>(arg)->Post(kUpdate); }
  static void OnQuiesce(void* arg) {
    auto* self = static_cast<WatchRecord*>(arg);
    bool unwatching;
    {
      std::lock_guard<std::mutex> lock(self->quiesceMu_);
      self->pendingQuiesce_++;
      unwatching = self->unwatched_.load();
    }
    // Unwatching (the JS thread may be the one waiting in rbd_quiesce_unwatch)
    // or dropped: JS will not answer.
    if (unwatching || !self->Post(kQuiesce)) self->CompleteQuiesce(-ESHUTDOWN);
  }
  static void OnUnquiesce(void* arg) { static_cast<WatchRecord*>(arg)->Post(kUnquiesce); }

  // JS thread: no event reaches JS from now on.
  void Deactivate() { active_.store(false, std::memory_order_release); }
  // JS thread, once librbd is done: lets the function finalize.
  void ReleaseFunction() {
    if (released_) return;
    released_ = true;
    tsfn_.Release();
  }
  // Worker/reaper thread: unregister from librbd (idempotent).
  int Unwatch(rbd_image_t img) {
    {
      std::lock_guard<std::mutex> lock(quiesceMu_);
      if (unwatched_.exchange(true)) return 0;
    }
    uint64_t h = handle.load();
    int rc = 0;
    if (quiesce_) {
      Unregister();
      while (CompleteQuiesce(-ESHUTDOWN)) {
      }  // unanswered quiesces: rbd_quiesce_unwatch would wait for them forever
      rc = rbd_quiesce_unwatch(img, h);
    } else {
      rc = rbd_update_unwatch(img, h);
    }
    Drop();
    return rc;
  }
  // Completes one pending quiesce with rc; false when none is pending. Any thread.
  bool CompleteQuiesce(int rc) {
    {
      std::lock_guard<std::mutex> lock(quiesceMu_);
      if (pendingQuiesce_ == 0) return false;
      pendingQuiesce_--;
    }
    rbd_quiesce_complete(img_, handle.load(), rc);
    return true;
  }
  // The quiesce registry: quiesceComplete(image, handle) finds its record.
  void Register() {
    std::lock_guard<std::mutex> lock(RegistryMu());
    Registry()[{img_, handle.load()}] = this;
  }
  void Unregister() {
    std::lock_guard<std::mutex> lock(RegistryMu());
    auto it = Registry().find({img_, handle.load()});
    if (it != Registry().end() && it->second == this) Registry().erase(it);
  }
  // JS thread (quiesceComplete): false when the watch is gone.
  static bool Answer(rbd_image_t img, uint64_t h, int rc) {
    std::lock_guard<std::mutex> lock(RegistryMu());
    auto it = Registry().find({img, h});
    if (it == Registry().end()) return false;
    it->second->CompleteQuiesce(rc);
    return true;
  }
  // librbd's registration failed: it will never call back.
  void RegistrationFailed() {
    unwatched_.store(true);
    Drop();
  }

  std::atomic<uint64_t> handle{0};  // written by the registering worker, read on the JS thread

 private:
  static std::mutex& RegistryMu() {
    static std::mutex mu;
    return mu;
  }
  static std::map<std::pair<rbd_image_t, uint64_t>, WatchRecord*>& Registry() {
    static auto* registry = new std::map<std::pair<rbd_image_t, uint64_t>, WatchRecord*>();  // never destroyed
    return *registry;
  }

  // Returns false when the event was dropped (it will not reach JS).
  bool Post(int event) {
    try {
      if (!active_.load(std::memory_order_acquire)) return false;
      if (event == kUpdate && pendingUpdate_.exchange(true)) return true;  // coalesced
      std::lock_guard<std::mutex> lock(mu_);
      if (!tsfnAlive_) return false;
      int* data = new int(event);
      if (tsfn_.NonBlockingCall(data) != napi_ok) {
        delete data;
        return false;
      }
      return true;
    } catch (...) {
      // bad_alloc or a lock failure: the event is lost, librbd is not harmed
      return false;
    }
  }
  // Two owners: librbd's registration and the thread-safe function.
  void Drop() {
    if (owners_.fetch_sub(1) == 1) delete this;
  }

  Tsfn tsfn_;
  const bool quiesce_;
  rbd_image_t img_;
  std::mutex quiesceMu_;
  int pendingQuiesce_ = 0;
  bool released_ = false;
  std::atomic<bool> active_{true};
  std::atomic<bool> pendingUpdate_{false};
  std::atomic<bool> unwatched_{false};
  std::atomic<int> owners_{2};
  std::mutex mu_;
  bool tsfnAlive_ = true;
};

void WatchRecord::CallJs(Napi::Env env, Napi::Function fn, WatchRecord* self, int* event) {
  int ev = *event;
  delete event;
  bool deliver = env != nullptr && self->active_.load(std::memory_order_acquire);
  if (!deliver) {  // teardown or unwatched: dropped quietly, a quiesce completed here
    if (ev == kQuiesce) self->CompleteQuiesce(-ESHUTDOWN);
    return;
  }
  if (ev == kUpdate) self->pendingUpdate_.store(false);
  // lib/ wraps the user callback; anything else is dropped here.
  NoThrow([&] {
    Napi::HandleScope scope(env);
    static const char* kNames[] = {"update", "quiesce", "unquiesce"};
    CallNoThrow(env, fn, {Napi::String::New(env, kNames[ev]), Napi::Number::New(env, static_cast<double>(self->handle.load()))});
  });
}

void WatchRecord::Finalize(Napi::Env, void*, WatchRecord* self) {
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->tsfnAlive_ = false;
  }
  self->Drop();
}

std::atomic<uint64_t> nextKey{1};

// watch(image, callback, quiesce) -> Promise<key>. The worker always
// "succeeds" so that the JS thread sees a failed registration too and
// releases the function before rejecting.
Napi::Value Watch(const Napi::CallbackInfo& info, bool quiesce) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  if (!info[1].IsFunction()) ThrowType(env, "Expected a function for callback");
  const char* op = quiesce ? "Image.watchQuiesce" : "Image.watchUpdates";
  ErrorContext ctx = image->Ctx(op);
  if (!image->IsOpen()) return RejectClosed(env, ctx, image);
  rbd_image_t img = image->image();
  auto* record = new WatchRecord(env, info[1].As<Napi::Function>(), quiesce, img);
  uint64_t key = nextKey.fetch_add(1);
  return RunAsync<int>(
      env, image, ctx,
      [img, record, quiesce](int& rc) {
        uint64_t h = 0;
        rc = quiesce ? rbd_quiesce_watch(img, &WatchRecord::OnQuiesce, &WatchRecord::OnUnquiesce, record, &h)
                     : rbd_update_watch(img, &h, &WatchRecord::OnUpdate, record);
        record->handle.store(h);
        if (rc < 0) {
          record->RegistrationFailed();
        } else if (quiesce) {
          record->Register();
        }
        return 0;
      },
      [image, record, key, ctx](Napi::Env env, int& rc) -> Napi::Value {
        if (rc < 0) {
          record->Deactivate();
          record->ReleaseFunction();
          throw Napi::Error(env, MakeCephError(env, rc, ctx));
        }
        image->AddWatchHook(key, {[record](rbd_image_t img) { record->Unwatch(img); },
                                  [record] {
                                    record->Deactivate();
                                    record->ReleaseFunction();
                                  }});
        return Napi::Number::New(env, static_cast<double>(key));
      });
}

}  // namespace

// updateWatch(image, callback(event, handle)) -> Promise<key>
// Implements: rbd_update_watch
static Napi::Value UpdateWatch(const Napi::CallbackInfo& info) { return Watch(info, false); }

// quiesceWatch(image, callback(event, handle)) -> Promise<key>; the JS side
// answers every 'quiesce' event with quiesceComplete.
// Implements: rbd_quiesce_watch
static Napi::Value QuiesceWatch(const Napi::CallbackInfo& info) { return Watch(info, true); }

// unwatch(image, key): resolves once librbd has dropped the watch (no
// callback after that); resolves too when the image closed it already.
// Implements: rbd_update_unwatch, rbd_quiesce_unwatch
static Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t key = ArgU64(info, 1, "key");
  ErrorContext ctx = image->Ctx("Image.unwatch");
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!image->IsOpen()) {  // close unwatched it (or is doing so)
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  Image::WatchHook hook;
  if (!image->TakeWatchHook(key, &hook)) {
    deferred.Reject(MakeCephError(env, -ENOENT, ctx));
    return deferred.Promise();
  }
  auto closed = hook.closed;
  closed();  // deactivate now; release after librbd let go (below)
  rbd_image_t img = image->image();
  auto unwatch = hook.unwatch;
  return RunAsync<int>(
      env, image, ctx,
      [img, unwatch](int&) {
        unwatch(img);
        return 0;
      },
      nullptr);
}

// quiesceComplete(image, handle, rc): this client finished quiescing (rc 0)
// or failed to (negative errno: the snapshot then fails unless created with
// RBD_SNAP_CREATE_IGNORE_QUIESCE_ERROR). Does not block.
// Implements: rbd_quiesce_complete
static Napi::Value QuiesceComplete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t handle = ArgU64(info, 1, "handle");
  int64_t rc = ArgI64(info, 2, "rc");
  if (!image->Enter()) throw Napi::Error(env, MakeClosedError(env, "Image.quiesceComplete", image->Kind()));
  WatchRecord::Answer(image->image(), handle, static_cast<int>(rc));  // a watch already gone: nothing pending
  image->Leave(env);
  return env.Undefined();
}

void AddUpdateWatchFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "updateWatch", UpdateWatch);
  SetFn(env, rbdx, "quiesceWatch", QuiesceWatch);
  SetFn(env, rbdx, "unwatch", Unwatch);
  SetFn(env, rbdx, "quiesceComplete", QuiesceComplete);
}

}  // namespace cephrbd
