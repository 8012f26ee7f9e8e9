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
#include <atomic>
#include <cerrno>
#include <mutex>

#include "common/args.h"
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

  WatchRecord(Napi::Env env, Napi::Function fn, bool quiesce) : quiesce_(quiesce) {
    tsfn_ = Tsfn::New(env, fn, "ceph-rbd:watch", 0, 1, this, &WatchRecord::Finalize, static_cast<void*>(nullptr));
    tsfn_.Unref(env);
  }

  // librbd's threads.
  static void OnUpdate(void* arg) { static_cast<WatchRecord*>(arg)->Post(kUpdate); }
  static void OnQuiesce(void* arg) { static_cast<WatchRecord*>(arg)->Post(kQuiesce); }
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
    if (unwatched_.exchange(true)) return 0;
    uint64_t h = handle.load();
    int rc = quiesce_ ? rbd_quiesce_unwatch(img, h) : rbd_update_unwatch(img, h);
    Drop();
    return rc;
  }
  // librbd's registration failed: it will never call back.
  void RegistrationFailed() {
    unwatched_.store(true);
    Drop();
  }

  std::atomic<uint64_t> handle{0};  // written by the registering worker, read on the JS thread

 private:
  void Post(int event) {
    try {
      if (!active_.load(std::memory_order_acquire)) return;
      if (event == kUpdate && pendingUpdate_.exchange(true)) return;  // coalesced
      std::lock_guard<std::mutex> lock(mu_);
      if (!tsfnAlive_) return;
      int* data = new int(event);
      if (tsfn_.NonBlockingCall(data) != napi_ok) delete data;
    } catch (...) {
      // bad_alloc or a lock failure: the event is lost, librbd is not harmed
    }
  }
  // Two owners: librbd's registration and the thread-safe function.
  void Drop() {
    if (owners_.fetch_sub(1) == 1) delete this;
  }

  Tsfn tsfn_;
  const bool quiesce_;
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
  if (env == nullptr) return;  // teardown: dropped quietly
  if (ev == kUpdate) self->pendingUpdate_.store(false);
  if (!self->active_.load(std::memory_order_acquire)) return;
  try {
    static const char* kNames[] = {"update", "quiesce", "unquiesce"};
    fn.Call({Napi::String::New(env, kNames[ev]),
             Napi::Number::New(env, static_cast<double>(self->handle.load()))});
  } catch (const Napi::Error&) {
    // lib/ wraps the user callback; anything else is dropped here
  } catch (...) {
  }
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
  auto* record = new WatchRecord(env, info[1].As<Napi::Function>(), quiesce);
  rbd_image_t img = image->image();
  uint64_t key = nextKey.fetch_add(1);
  return RunAsync<int>(
      env, image, ctx,
      [img, record, quiesce](int& rc) {
        uint64_t h = 0;
        rc = quiesce ? rbd_quiesce_watch(img, &WatchRecord::OnQuiesce, &WatchRecord::OnUnquiesce, record, &h)
                     : rbd_update_watch(img, &h, &WatchRecord::OnUpdate, record);
        record->handle.store(h);
        if (rc < 0) record->RegistrationFailed();
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
  image->EnterOrThrow(env, "Image.quiesceComplete");
  rbd_quiesce_complete(image->image(), handle, static_cast<int>(rc));
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
