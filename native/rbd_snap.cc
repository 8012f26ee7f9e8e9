// Image snapshots: create, remove, rename, protect, unprotect, list,
// rollback, set, limits.
#include <cerrno>
#include <ctime>
#include <limits>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

void Image::AddSnapMethods(Props& props) {
  props.push_back(InstanceMethod<&Image::CreateSnap>("createSnap"));
  props.push_back(InstanceMethod<&Image::RemoveSnap>("removeSnap"));
  props.push_back(InstanceMethod<&Image::RenameSnap>("renameSnap"));
  props.push_back(InstanceMethod<&Image::ProtectSnap>("protectSnap"));
  props.push_back(InstanceMethod<&Image::UnprotectSnap>("unprotectSnap"));
  props.push_back(InstanceMethod<&Image::IsProtectedSnap>("isProtectedSnap"));
  props.push_back(InstanceMethod<&Image::ListSnaps>("listSnaps"));
  props.push_back(InstanceMethod<&Image::RollbackToSnap>("rollbackToSnap"));
  props.push_back(InstanceMethod<&Image::SetSnap>("setSnap"));
  props.push_back(InstanceMethod<&Image::SnapExists>("snapExists"));
  props.push_back(InstanceMethod<&Image::SnapGetLimit>("snapGetLimit"));
  props.push_back(InstanceMethod<&Image::SnapSetLimit>("snapSetLimit"));
  props.push_back(InstanceMethod<&Image::SnapGetTimestamp>("snapGetTimestamp"));
}

// Implements: rbd_snap_create
Napi::Value Image::CreateSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, SnapCtx("Image.createSnap", snap),
                      [img, snap] { return rbd_snap_create(img, snap.c_str()); });
}

// removeSnap(name, flags, onProgress?, cancelFlag?); flags are RBD_SNAP_REMOVE_*.
// Without flags, progress or cancel: the plain rbd_snap_remove.
// Implements: rbd_snap_remove, rbd_snap_remove2
Napi::Value Image::RemoveSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  uint32_t flags = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  rbd_image_t img = image_;
  if (flags == 0 && !info[2].IsFunction() && !info[3].IsTypedArray()) {
    return RunAsyncVoid(info.Env(), this, SnapCtx("Image.removeSnap", snap),
                        [img, snap] { return rbd_snap_remove(img, snap.c_str()); });
  }
  return RunWithProgress(info.Env(), this, SnapCtx("Image.removeSnap", snap), info[2], info[3],
                         [img, snap, flags](librbd_progress_fn_t fn, void* arg) {
                           return rbd_snap_remove2(img, snap.c_str(), flags, fn, arg);
                         });
}

// Implements: rbd_snap_rename
Napi::Value Image::RenameSnap(const Napi::CallbackInfo& info) {
  std::string src = ArgString(info, 0, "src");
  std::string dst = ArgString(info, 1, "dst");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, SnapCtx("Image.renameSnap", src),
                      [img, src, dst] { return rbd_snap_rename(img, src.c_str(), dst.c_str()); });
}

// Implements: rbd_snap_protect
Napi::Value Image::ProtectSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, SnapCtx("Image.protectSnap", snap),
                      [img, snap] { return rbd_snap_protect(img, snap.c_str()); });
}

// Implements: rbd_snap_unprotect
Napi::Value Image::UnprotectSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, SnapCtx("Image.unprotectSnap", snap),
                      [img, snap] { return rbd_snap_unprotect(img, snap.c_str()); });
}

// Implements: rbd_snap_is_protected
Napi::Value Image::IsProtectedSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsync<int>(
      info.Env(), this, SnapCtx("Image.isProtectedSnap", snap),
      [img, snap](int& out) { return rbd_snap_is_protected(img, snap.c_str(), &out); },
      [](Napi::Env env, int& v) { return Napi::Boolean::New(env, v != 0); });
}

// Implements: rbd_snap_exists
Napi::Value Image::SnapExists(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsync<bool>(
      info.Env(), this, SnapCtx("Image.snapExists", snap),
      [img, snap](bool& out) { return rbd_snap_exists(img, snap.c_str(), &out); },
      [](Napi::Env env, bool& v) { return Napi::Boolean::New(env, v); });
}

namespace {
struct SnapEntry {
  uint64_t id;
  uint64_t size;
  std::string name;
  int nsType;
  double timestampMs;
  bool isProtected;
};
}  // namespace

// listSnaps() -> [{ id, name, size, namespaceType, timestampMs, protected }]
// Implements: rbd_snap_list, rbd_snap_list_end, rbd_snap_get_namespace_type,
// rbd_snap_get_timestamp, rbd_snap_is_protected
Napi::Value Image::ListSnaps(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<std::vector<SnapEntry>>(
      info.Env(), this, Ctx("Image.listSnaps"),
      [img](std::vector<SnapEntry>& out) {
        std::vector<rbd_snap_info_t> snaps;
        int count = 0;
        int rc = GrowAndRetry(snaps, 16, [&](rbd_snap_info_t* data, size_t* len) {
          int max = static_cast<int>(*len);
          int r = rbd_snap_list(img, data, &max);
          if (r == -ERANGE) *len = static_cast<size_t>(max) + 1;
          if (r >= 0) count = r;
          return r < 0 ? r : 0;
        });
        if (rc < 0) return rc;
        for (int i = 0; i < count; ++i) {
          SnapEntry e{snaps[i].id, snaps[i].size, snaps[i].name, 0, 0, false};
          rbd_snap_namespace_type_t ns = RBD_SNAP_NAMESPACE_TYPE_USER;
          if (rbd_snap_get_namespace_type(img, e.id, &ns) == 0) e.nsType = ns;
          timespec ts{};
          if (rbd_snap_get_timestamp(img, e.id, &ts) == 0) {
            e.timestampMs = static_cast<double>(ts.tv_sec) * 1000.0 + ts.tv_nsec / 1e6;
          }
          int prot = 0;
          if (rbd_snap_is_protected(img, snaps[i].name, &prot) == 0) e.isProtected = prot != 0;
          out.push_back(std::move(e));
        }
        if (count > 0) rbd_snap_list_end(snaps.data());
        return 0;
      },
      [](Napi::Env env, std::vector<SnapEntry>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("id", Napi::Number::New(env, static_cast<double>(list[i].id)));
          o.Set("name", list[i].name);
          o.Set("size", Napi::Number::New(env, static_cast<double>(list[i].size)));
          o.Set("namespaceType", list[i].nsType);
          o.Set("timestampMs", list[i].timestampMs);
          o.Set("protected", list[i].isProtected);
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// Implements: rbd_snap_rollback, rbd_snap_rollback_with_progress
Napi::Value Image::RollbackToSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunPlainOrProgress(
      info.Env(), this, SnapCtx("Image.rollbackToSnap", snap), info[1], info[2],
      [img, bounds = bounds_, snap] {
        int rc = rbd_snap_rollback(img, snap.c_str());
        bounds->Invalidate();  // the head takes the snapshot's size
        return rc;
      },
      [img, bounds = bounds_, snap](librbd_progress_fn_t fn, void* arg) {
        int rc = rbd_snap_rollback_with_progress(img, snap.c_str(), fn, arg);
        bounds->Invalidate();
        return rc;
      });
}

// setSnap(name | null): read from a snapshot, or back to the head.
// Implements: rbd_snap_set
Napi::Value Image::SetSnap(const Napi::CallbackInfo& info) {
  std::string snap = ArgOptString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsync<NoResult>(
      info.Env(), this, SnapCtx("Image.setSnap", snap),
      [img, bounds = bounds_, snap](NoResult&) {
        int rc = rbd_snap_set(img, snap.empty() ? nullptr : snap.c_str());
        bounds->Invalidate();  // another view, another size
        return rc;
      },
      [this, snap](Napi::Env env, NoResult&) -> Napi::Value {
        snap_ = snap;
        return env.Undefined();
      });
}

// snapGetLimit() -> the limit, or Infinity when none is set: librbd reports
// "no limit" as UINT64_MAX, which a Number cannot hold (it would read back
// as 18446744073709552000); no limit above 2^53 - 1 is distinguishable
// from "none" in practice, so those are Infinity too.
// Implements: rbd_snap_get_limit
Napi::Value Image::SnapGetLimit(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<uint64_t>(
      info.Env(), this, Ctx("Image.snapGetLimit"), [img](uint64_t& out) { return rbd_snap_get_limit(img, &out); },
      [](Napi::Env env, uint64_t& v) {
        constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;
        return Napi::Number::New(env, v > kMaxSafe ? std::numeric_limits<double>::infinity()
                                                   : static_cast<double>(v));
      });
}

// Implements: rbd_snap_set_limit
Napi::Value Image::SnapSetLimit(const Napi::CallbackInfo& info) {
  uint64_t limit = ArgU64(info, 0, "limit");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.snapSetLimit"), [img, limit] { return rbd_snap_set_limit(img, limit); });
}

// snapGetTimestamp(name) -> milliseconds since the epoch.
// Implements: rbd_snap_get_id, rbd_snap_get_timestamp
Napi::Value Image::SnapGetTimestamp(const Napi::CallbackInfo& info) {
  std::string snap = ArgString(info, 0, "snapshot");
  rbd_image_t img = image_;
  return RunAsync<double>(
      info.Env(), this, SnapCtx("Image.snapGetTimestamp", snap),
      [img, snap](double& out) {
        uint64_t id = 0;
        int rc = rbd_snap_get_id(img, snap.c_str(), &id);
        timespec ts{};
        if (rc == 0) rc = rbd_snap_get_timestamp(img, id, &ts);
        out = static_cast<double>(ts.tv_sec) * 1000.0 + ts.tv_nsec / 1e6;
        return rc;
      },
      [](Napi::Env env, double& v) { return Napi::Number::New(env, v); });
}

}  // namespace cephrbd
