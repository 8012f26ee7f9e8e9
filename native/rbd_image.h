// rbd_image_t: an open RBD image. The methods are split by concern:
//   rbd_image.cc       open/close, stat, size, resize, features, names
//   rbd_image_bounds.cc  the size a write is checked against
//   rbd_image_io.cc    read/write/discard/flush (worker) and aio, diff-iterate
//   rbd_image_aio.h    starting an aio operation; the end-of-image check of data writes
//   rbd_snap.cc        snapshots
//   rbd_clone.cc       parent/children, flatten, copy, deep copy
//   rbd_image_meta.cc  metadata, locks, watchers, object map
#pragma once
#include <napi.h>
#include <rbd/librbd.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/handle.h"
#include "common/submit_queue.h"
#include "rbd_image_bounds.h"

namespace cephrbd {

class IoCtx;
extern const napi_type_tag kImageTag;

class Image : public Napi::ObjectWrap<Image>, public Handle {
 public:
  using Props = std::vector<Napi::ClassPropertyDescriptor<Image>>;
  static void Init(Napi::Env env, Napi::Object exports);
  // Module function openImage(ioctx, nameOrId, { readOnly, snapshot, byId }).
  static Napi::Value Open(const Napi::CallbackInfo& info);
  static Image* FromValue(Napi::Env env, Napi::Value v);

  explicit Image(const Napi::CallbackInfo& info);
  ~Image() override;

  rbd_image_t image() const { return image_; }
  Napi::Object JsObject() override { return Value(); }
  ErrorContext Ctx(const char* op) const;
  ErrorContext SnapCtx(const char* op, const std::string& snap) const;
  // rbd_snap_ext.cc: after rbd_snap_set_by_id succeeded.
  void set_snap(const std::string& snap) { snap_ = snap; }
  // Shared with worker threads and the release: it outlives this object
  // until the image is closed.
  const std::shared_ptr<ImageBounds>& bounds() const { return bounds_; }
  // Where aio submissions wait that must not block the JS thread.
  SubmitQueue* submitQueue() const { return submitQueue_.get(); }

  // Watches registered on this image (rbd_update_watch.cc): `unwatch` runs
  // on the releasing thread just before rbd_close, `closed` on the JS thread
  // once the image is closed, so a closed image never calls back.
  struct WatchHook {
    std::function<void(rbd_image_t)> unwatch;
    std::function<void()> closed;
  };
  void AddWatchHook(uint64_t key, WatchHook hook) { watchHooks_[key] = std::move(hook); }
  bool TakeWatchHook(uint64_t key, WatchHook* out) {
    auto it = watchHooks_.find(key);
    if (it == watchHooks_.end()) return false;
    *out = std::move(it->second);
    watchHooks_.erase(it);
    return true;
  }

  // Each file registers its methods.
  static void AddCoreMethods(Props& props);
  static void AddIoMethods(Props& props);
  static void AddSnapMethods(Props& props);
  static void AddCloneMethods(Props& props);
  static void AddMetaMethods(Props& props);

 private:
  std::function<void()> TakeRelease() override;
  void OnClosed() override {
    for (auto& hook : watchHooks_) {
      if (hook.second.closed) hook.second.closed();
    }
    watchHooks_.clear();
    parentRef_.Reset();
  }

  // rbd_image.cc
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Resize(const Napi::CallbackInfo& info);
  Napi::Value Features(const Napi::CallbackInfo& info);
  Napi::Value UpdateFeatures(const Napi::CallbackInfo& info);
  Napi::Value OpFeatures(const Napi::CallbackInfo& info);
  Napi::Value Flags(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value BlockNamePrefix(const Napi::CallbackInfo& info);
  Napi::Value StripeUnit(const Napi::CallbackInfo& info);
  Napi::Value StripeCount(const Napi::CallbackInfo& info);
  Napi::Value DataPoolId(const Napi::CallbackInfo& info);
  Napi::Value Timestamps(const Napi::CallbackInfo& info);
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetPool(const Napi::CallbackInfo& info);
  Napi::Value GetSnapName(const Napi::CallbackInfo& info);
  Napi::Value GetReadOnly(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);

  // rbd_image_io.cc
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value AioRead(const Napi::CallbackInfo& info);
  Napi::Value AioWrite(const Napi::CallbackInfo& info);
  Napi::Value AioFlush(const Napi::CallbackInfo& info);
  Napi::Value AioDiscard(const Napi::CallbackInfo& info);
  Napi::Value AioWriteZeroes(const Napi::CallbackInfo& info);
  Napi::Value Discard(const Napi::CallbackInfo& info);
  Napi::Value WriteZeroes(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value InvalidateCache(const Napi::CallbackInfo& info);
  Napi::Value DiffIterate(const Napi::CallbackInfo& info);

  // rbd_snap.cc
  Napi::Value CreateSnap(const Napi::CallbackInfo& info);
  Napi::Value RemoveSnap(const Napi::CallbackInfo& info);
  Napi::Value RenameSnap(const Napi::CallbackInfo& info);
  Napi::Value ProtectSnap(const Napi::CallbackInfo& info);
  Napi::Value UnprotectSnap(const Napi::CallbackInfo& info);
  Napi::Value IsProtectedSnap(const Napi::CallbackInfo& info);
  Napi::Value ListSnaps(const Napi::CallbackInfo& info);
  Napi::Value RollbackToSnap(const Napi::CallbackInfo& info);
  Napi::Value SetSnap(const Napi::CallbackInfo& info);
  Napi::Value SnapExists(const Napi::CallbackInfo& info);
  Napi::Value SnapGetLimit(const Napi::CallbackInfo& info);
  Napi::Value SnapSetLimit(const Napi::CallbackInfo& info);
  Napi::Value SnapGetTimestamp(const Napi::CallbackInfo& info);

  // rbd_clone.cc
  Napi::Value Flatten(const Napi::CallbackInfo& info);
  Napi::Value ParentInfo(const Napi::CallbackInfo& info);
  Napi::Value ListChildren(const Napi::CallbackInfo& info);
  Napi::Value Overlap(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value DeepCopy(const Napi::CallbackInfo& info);

  // rbd_image_meta.cc
  Napi::Value MetadataGet(const Napi::CallbackInfo& info);
  Napi::Value MetadataSet(const Napi::CallbackInfo& info);
  Napi::Value MetadataRemove(const Napi::CallbackInfo& info);
  Napi::Value MetadataList(const Napi::CallbackInfo& info);
  Napi::Value ListLockers(const Napi::CallbackInfo& info);
  Napi::Value BreakLock(const Napi::CallbackInfo& info);
  Napi::Value LockAcquire(const Napi::CallbackInfo& info);
  Napi::Value LockRelease(const Napi::CallbackInfo& info);
  Napi::Value LockGetOwners(const Napi::CallbackInfo& info);
  Napi::Value LockBreak(const Napi::CallbackInfo& info);
  Napi::Value IsExclusiveLockOwner(const Napi::CallbackInfo& info);
  Napi::Value ListWatchers(const Napi::CallbackInfo& info);
  Napi::Value RebuildObjectMap(const Napi::CallbackInfo& info);
  Napi::Value Sparsify(const Napi::CallbackInfo& info);

  rbd_image_t image_ = nullptr;
  std::string pool_;
  std::string ns_;
  std::string name_;
  std::string snap_;  // the snapshot the image is set to ("" = head)
  bool readOnly_ = false;
  int64_t opTimeoutMs_ = 0;  // the connection's rados_osd_op_timeout (ms; 0 = none), read at open
  std::shared_ptr<ImageBounds> bounds_;
  std::shared_ptr<SubmitQueue> submitQueue_ = std::make_shared<SubmitQueue>();
  Napi::ObjectReference parentRef_;
  std::map<uint64_t, WatchHook> watchHooks_;
};

}  // namespace cephrbd
