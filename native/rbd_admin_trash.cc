// Pool-level librbd, part 2: clone, the trash, and pool init. Module
// functions taking an IoCtx, added to the `rbd` object of rbd_admin.cc.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rados_ioctx.h"
#include "rbd_admin.h"

namespace cephrbd {

namespace {

// rbd_default_features as a number: an integer, or names such as
// "layering,exclusive-lock" (what librbd's config validator accepts).
int ParseFeatures(const std::string& text, uint64_t* out) {
  static const struct {
    const char* name;
    uint64_t bit;
  } kNames[] = {
      {RBD_FEATURE_NAME_LAYERING, RBD_FEATURE_LAYERING},
      {RBD_FEATURE_NAME_STRIPINGV2, RBD_FEATURE_STRIPINGV2},
      {RBD_FEATURE_NAME_EXCLUSIVE_LOCK, RBD_FEATURE_EXCLUSIVE_LOCK},
      {RBD_FEATURE_NAME_OBJECT_MAP, RBD_FEATURE_OBJECT_MAP},
      {RBD_FEATURE_NAME_FAST_DIFF, RBD_FEATURE_FAST_DIFF},
      {RBD_FEATURE_NAME_DEEP_FLATTEN, RBD_FEATURE_DEEP_FLATTEN},
      {RBD_FEATURE_NAME_JOURNALING, RBD_FEATURE_JOURNALING},
      {RBD_FEATURE_NAME_DATA_POOL, RBD_FEATURE_DATA_POOL},
      {RBD_FEATURE_NAME_OPERATIONS, RBD_FEATURE_OPERATIONS},
      {RBD_FEATURE_NAME_MIGRATING, RBD_FEATURE_MIGRATING},
      {RBD_FEATURE_NAME_NON_PRIMARY, RBD_FEATURE_NON_PRIMARY},
      {RBD_FEATURE_NAME_DIRTY_CACHE, RBD_FEATURE_DIRTY_CACHE},
  };
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    *out = std::strtoull(text.c_str(), nullptr, 10);
    return 0;
  }
  uint64_t features = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(", +", i);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(i, end - i);
    i = end + 1;
    if (word.empty()) continue;
    bool known = false;
    for (const auto& n : kNames) {
      if (word == n.name) {
        features |= n.bit;
        known = true;
      }
    }
    if (!known) return -EINVAL;
  }
  *out = features;
  return 0;
}

// The rbd_default_features in effect for new images in the pool of `io`
// (the cluster's value with `rbd config pool set` overrides applied), which
// is what rbd_create4 uses when no features are given. Falls back to the
// client's configuration should the pool list lack the option.
// Implements: rbd_config_pool_list, rbd_config_pool_list_cleanup,
// rados_ioctx_get_cluster, rados_conf_get
int DefaultFeatures(rados_ioctx_t io, uint64_t* out) {
  std::vector<rbd_config_option_t> options;
  int count = 0;
  int rc = GrowAndRetry(options, 128, [&](rbd_config_option_t* data, size_t* len) {
    int max = static_cast<int>(*len);
    int r = rbd_config_pool_list(io, data, &max);
    if (r == -ERANGE) *len = static_cast<size_t>(max);
    if (r == 0) count = max;
    return r;
  });
  if (rc < 0) return rc;
  rc = -ENOENT;
  for (int i = 0; i < count; ++i) {
    if (std::strcmp(options[i].name, "rbd_default_features") == 0) {
      rc = ParseFeatures(options[i].value, out);
      break;
    }
  }
  rbd_config_pool_list_cleanup(options.data(), count);
  if (rc == -ENOENT) {
    char value[256];
    rc = rados_conf_get(rados_ioctx_get_cluster(io), "rbd_default_features", value, sizeof(value));
    if (rc == 0) rc = ParseFeatures(value, out);
  }
  return rc;
}

struct TrashEntry {
  std::string id;
  std::string name;
  int source = 0;
  double deletionTimeMs = 0;
  double defermentEndTimeMs = 0;
};

TrashEntry CopyTrashEntry(const rbd_trash_image_info_t& info) {
  TrashEntry e;
  e.id = info.id ? info.id : "";
  e.name = info.name ? info.name : "";
  e.source = static_cast<int>(info.source);
  e.deletionTimeMs = static_cast<double>(info.deletion_time) * 1000.0;
  e.defermentEndTimeMs = static_cast<double>(info.deferment_end_time) * 1000.0;
  return e;
}

Napi::Object TrashEntryToJs(Napi::Env env, const TrashEntry& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", e.id);
  o.Set("name", e.name);
  o.Set("source", e.source);
  o.Set("deletionTimeMs", e.deletionTimeMs);
  o.Set("defermentEndTimeMs", e.defermentEndTimeMs);
  return o;
}

}  // namespace

// clone(parentIoctx, parentName, snapName, childIoctx, childName, options)
// The parent IoCtx is the handle RunAsync tracks; the child IoCtx is held by
// an EnterSecondHandle token (one IoCtx for both is fine: entered twice).
// WithImageOptions always sets format 2, which clone requires (CloneRequest
// rejects format < 2 with EINVAL). Without `features`, librbd would copy the
// parent's features; we use the pool's rbd_default_features instead, as
// Rbd.create does. Errors name the parent image and snapshot.
// Implements: rbd_clone3
static Napi::Value Clone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* parent = IoCtx::FromValue(env, info[0]);
  std::string parentName = ArgString(info, 1, "parentName");
  std::string snapName = ArgString(info, 2, "snapName");
  IoCtx* child = IoCtx::FromValue(env, info[3]);
  std::string childName = ArgString(info, 4, "childName");
  ImageOptions o = ReadImageOptions(env, info[5]);
  ErrorContext ctx = ImageCtx(parent, "Rbd.clone", parentName);
  ctx.snapshot = snapName;
  std::shared_ptr<void> childRef = EnterSecondHandle(env, child);
  if (!childRef) return RejectClosed(env, ctx, child);
  rados_ioctx_t pio = parent->io();
  rados_ioctx_t cio = child->io();
  return RunAsyncVoid(env, parent, ctx, [childRef, pio, cio, parentName, snapName, childName, o] {
    ImageOptions options = o;
    if (!options.hasFeatures) {
      int rc = DefaultFeatures(cio, &options.features);
      if (rc < 0) return rc;
      options.hasFeatures = true;
    }
    return WithImageOptions(options, [&](rbd_image_options_t opts) {
      return rbd_clone3(pio, parentName.c_str(), snapName.c_str(), cio, childName.c_str(), opts);
    });
  });
}

// trashMove(ioctx, name, delaySeconds)
// Implements: rbd_trash_move
static Napi::Value TrashMove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  uint64_t delay = ArgU64(info, 2, "delaySeconds");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, ImageCtx(ioctx, "Rbd.trashMove", name),
                      [io, name, delay] { return rbd_trash_move(io, name.c_str(), delay); });
}

// trashList(ioctx) -> [{ id, name, source, deletionTimeMs, defermentEndTimeMs }]
// Implements: rbd_trash_list, rbd_trash_list_cleanup
static Napi::Value TrashList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::vector<TrashEntry>>(
      env, ioctx, ioctx->Ctx("Rbd.trashList", "rbd"),
      [io](std::vector<TrashEntry>& out) {
        std::vector<rbd_trash_image_info_t> entries;
        size_t count = 0;
        int rc = GrowAndRetry(entries, 32, [&](rbd_trash_image_info_t* data, size_t* len) {
          int r = rbd_trash_list(io, data, len);  // >= 0: the number of entries
          if (r >= 0) count = *len;
          return r < 0 ? r : 0;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) out.push_back(CopyTrashEntry(entries[i]));
        rbd_trash_list_cleanup(entries.data(), count);
        return 0;
      },
      [](Napi::Env env, std::vector<TrashEntry>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) arr.Set(static_cast<uint32_t>(i), TrashEntryToJs(env, list[i]));
        return arr;
      });
}

// trashGet(ioctx, id) -> { id, name, source, deletionTimeMs, defermentEndTimeMs }
// Implements: rbd_trash_get, rbd_trash_get_cleanup
static Napi::Value TrashGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string id = ArgString(info, 1, "id");
  rados_ioctx_t io = ioctx->io();
  return RunAsync<TrashEntry>(
      env, ioctx, ImageCtx(ioctx, "Rbd.trashGet", id),
      [io, id](TrashEntry& out) {
        rbd_trash_image_info_t entry{};
        int rc = rbd_trash_get(io, id.c_str(), &entry);
        if (rc < 0) return rc;  // nothing allocated
        out = CopyTrashEntry(entry);
        rbd_trash_get_cleanup(&entry);
        return 0;
      },
      [](Napi::Env env, TrashEntry& e) -> Napi::Value { return TrashEntryToJs(env, e); });
}

// trashRestore(ioctx, id, name)
// Implements: rbd_trash_restore
static Napi::Value TrashRestore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string id = ArgString(info, 1, "id");
  std::string name = ArgString(info, 2, "name");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, ImageCtx(ioctx, "Rbd.trashRestore", id),
                      [io, id, name] { return rbd_trash_restore(io, id.c_str(), name.c_str()); });
}

// trashRemove(ioctx, id, force, onProgress?, cancelFlag?); EPERM before the
// deferment ends unless force.
// Implements: rbd_trash_remove, rbd_trash_remove_with_progress
static Napi::Value TrashRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string id = ArgString(info, 1, "id");
  bool force = ArgBool(info, 2);
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ImageCtx(ioctx, "Rbd.trashRemove", id), info[3], info[4],
      [io, id, force] { return rbd_trash_remove(io, id.c_str(), force); },
      [io, id, force](librbd_progress_fn_t fn, void* arg) {
        return rbd_trash_remove_with_progress(io, id.c_str(), force, fn, arg);
      });
}

// trashPurge(ioctx, expireTsSeconds, threshold, onProgress?, cancelFlag?):
// removes user-trashed images whose deferment ended by expireTs. librbd
// takes threshold -1 as "not set" (anything else must be 0..1, the pool
// usage above which it purges), so every negative number becomes -1.
// Implements: rbd_trash_purge, rbd_trash_purge_with_progress
static Napi::Value TrashPurge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  int64_t expire = ArgI64(info, 1, "expireTsSeconds");
  if (!info[2].IsNumber()) ThrowType(env, "Expected a number for threshold");
  double t = info[2].As<Napi::Number>().DoubleValue();
  float threshold = t < 0 ? -1.0f : static_cast<float>(t);
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ioctx->Ctx("Rbd.trashPurge", "rbd"), info[3], info[4],
      [io, expire, threshold] { return rbd_trash_purge(io, static_cast<time_t>(expire), threshold); },
      [io, expire, threshold](librbd_progress_fn_t fn, void* arg) {
        return rbd_trash_purge_with_progress(io, static_cast<time_t>(expire), threshold, fn, arg);
      });
}

// poolInit(ioctx, force)
// Implements: rbd_pool_init
static Napi::Value PoolInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  bool force = ArgBool(info, 1);
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, ioctx->Ctx("Rbd.poolInit", "rbd"),
                      [io, force] { return rbd_pool_init(io, force); });
}

void AddTrashAndCloneFunctions(Napi::Env env, Napi::Object rbd) {
  rbd.Set("clone", Napi::Function::New(env, Clone, "clone"));
  rbd.Set("trashMove", Napi::Function::New(env, TrashMove, "trashMove"));
  rbd.Set("trashList", Napi::Function::New(env, TrashList, "trashList"));
  rbd.Set("trashGet", Napi::Function::New(env, TrashGet, "trashGet"));
  rbd.Set("trashRestore", Napi::Function::New(env, TrashRestore, "trashRestore"));
  rbd.Set("trashRemove", Napi::Function::New(env, TrashRemove, "trashRemove"));
  rbd.Set("trashPurge", Napi::Function::New(env, TrashPurge, "trashPurge"));
  rbd.Set("poolInit", Napi::Function::New(env, PoolInit, "poolInit"));
}

}  // namespace cephrbd
