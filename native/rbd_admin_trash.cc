// The trash: move, list, get, restore, remove, purge. Module functions
// taking an IoCtx, added to the `rbd` object of rbd_admin.cc.
#include <cerrno>
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

void AddTrashFunctions(Napi::Env env, Napi::Object rbd) {
  rbd.Set("trashMove", Napi::Function::New(env, TrashMove, "trashMove"));
  rbd.Set("trashList", Napi::Function::New(env, TrashList, "trashList"));
  rbd.Set("trashGet", Napi::Function::New(env, TrashGet, "trashGet"));
  rbd.Set("trashRestore", Napi::Function::New(env, TrashRestore, "trashRestore"));
  rbd.Set("trashRemove", Napi::Function::New(env, TrashRemove, "trashRemove"));
  rbd.Set("trashPurge", Napi::Function::New(env, TrashPurge, "trashPurge"));
}

}  // namespace cephrbd
