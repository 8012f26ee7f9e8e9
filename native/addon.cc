// Module init only: classes, module functions, constants, cleanup hook.
#include <napi.h>
#include <rbd/librbd.h>

#include "common/addon_data.h"
#include "common/aio.h"
#include "common/errors.h"
#include "common/guard.h"
#include "common/handle.h"
#include "common/buffer_pool.h"
#include "hash.h"
#include "rados_cluster.h"
#include "rados_ext.h"
#include "rados_ioctx.h"
#include "rbd_admin.h"
#include "rbd_ext.h"
#include "rbd_image.h"
#include "rbd_mirror.h"

namespace cephrbd {

// Values straight from librbd's headers; lib/constants.ts mirrors them and a
// test checks the two agree.
static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto n = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
  n("RBD_FEATURE_LAYERING", RBD_FEATURE_LAYERING);
  n("RBD_FEATURE_STRIPINGV2", RBD_FEATURE_STRIPINGV2);
  n("RBD_FEATURE_EXCLUSIVE_LOCK", RBD_FEATURE_EXCLUSIVE_LOCK);
  n("RBD_FEATURE_OBJECT_MAP", RBD_FEATURE_OBJECT_MAP);
  n("RBD_FEATURE_FAST_DIFF", RBD_FEATURE_FAST_DIFF);
  n("RBD_FEATURE_DEEP_FLATTEN", RBD_FEATURE_DEEP_FLATTEN);
  n("RBD_FEATURE_JOURNALING", RBD_FEATURE_JOURNALING);
  n("RBD_FEATURE_DATA_POOL", RBD_FEATURE_DATA_POOL);
  n("RBD_FEATURE_OPERATIONS", RBD_FEATURE_OPERATIONS);
  n("RBD_FEATURE_MIGRATING", RBD_FEATURE_MIGRATING);
  n("RBD_FEATURE_NON_PRIMARY", RBD_FEATURE_NON_PRIMARY);
  n("RBD_FEATURES_DEFAULT", RBD_FEATURES_DEFAULT);
  n("RBD_OPERATION_FEATURE_CLONE_PARENT", RBD_OPERATION_FEATURE_CLONE_PARENT);
  n("RBD_OPERATION_FEATURE_CLONE_CHILD", RBD_OPERATION_FEATURE_CLONE_CHILD);
  n("RBD_OPERATION_FEATURE_GROUP", RBD_OPERATION_FEATURE_GROUP);
  n("RBD_OPERATION_FEATURE_SNAP_TRASH", RBD_OPERATION_FEATURE_SNAP_TRASH);
  n("RBD_FLAG_OBJECT_MAP_INVALID", RBD_FLAG_OBJECT_MAP_INVALID);
  n("RBD_FLAG_FAST_DIFF_INVALID", RBD_FLAG_FAST_DIFF_INVALID);
  n("RBD_SNAP_REMOVE_UNPROTECT", RBD_SNAP_REMOVE_UNPROTECT);
  n("RBD_SNAP_REMOVE_FLATTEN", RBD_SNAP_REMOVE_FLATTEN);
  n("RBD_SNAP_REMOVE_FORCE", RBD_SNAP_REMOVE_FORCE);
  n("RBD_SNAP_NAMESPACE_TYPE_USER", RBD_SNAP_NAMESPACE_TYPE_USER);
  n("RBD_SNAP_NAMESPACE_TYPE_GROUP", RBD_SNAP_NAMESPACE_TYPE_GROUP);
  n("RBD_SNAP_NAMESPACE_TYPE_TRASH", RBD_SNAP_NAMESPACE_TYPE_TRASH);
  n("RBD_SNAP_NAMESPACE_TYPE_MIRROR", RBD_SNAP_NAMESPACE_TYPE_MIRROR);
  n("RBD_MAX_IMAGE_NAME_SIZE", RBD_MAX_IMAGE_NAME_SIZE);
  n("RBD_LOCK_MODE_EXCLUSIVE", RBD_LOCK_MODE_EXCLUSIVE);
  n("RBD_LOCK_MODE_SHARED", RBD_LOCK_MODE_SHARED);
  n("RBD_TRASH_IMAGE_SOURCE_USER", RBD_TRASH_IMAGE_SOURCE_USER);
  n("LIBRBD_VERSION_CODE", LIBRBD_VERSION_CODE);
  return c;
}

static void Cleanup(void* arg) {
  auto* env = static_cast<napi_env>(arg);
  Napi::Env e(env);
  AddonData* data = AddonData::Get(e);
  if (data == nullptr) return;
  // Completions that trail the releases below are dropped, not posted.
  if (data->aio != nullptr) NoThrow([data] { data->aio->Shutdown(); });
  NoThrow([e] { ReleaseAllHandles(e, kExitWaitMs); });
}

// releaseAll(): for the process 'exit' event, where blocking is harmless and
// no cleanup hook would run (process.exit() skips them).
static Napi::Value ReleaseAll(const Napi::CallbackInfo& info) {
  AddonData* data = AddonData::Get(info.Env());
  if (data != nullptr && data->aio != nullptr) data->aio->Shutdown();
  int waitMs = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : kExitWaitMs;
  ReleaseAllHandles(info.Env(), waitMs < 0 ? 0 : waitMs);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  data->aio = new AioDispatcher(env);  // lives as long as the process (completions may trail)
  RadosCluster::Init(env, exports);
  IoCtx::Init(env, exports);
  Image::Init(env, exports);
  InitRbdAdmin(env, exports);
  InitRbdExt(env, exports);
  InitRbdMirror(env, exports);
  InitHash(env, exports);
  InitBufferPool(env, exports);
  {
    // addon.rados: librados beyond plain object I/O (rados_ext.h).
    Napi::Object rados = Napi::Object::New(env);
    InitRadosOps(env, rados);
    InitRadosAio(env, rados);
    InitRadosWatch(env, exports, rados);
    InitRadosLock(env, rados);
    InitRadosSnap(env, rados);
    InitRadosCommands(env, rados);
    InitRadosList(env, exports, rados);
    InitRadosObjectMore(env, rados);
    exports.Set("rados", rados);
  }
  exports.Set("constants", Constants(env));
  exports.Set("releaseAll", Napi::Function::New(env, ReleaseAll, "releaseAll"));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  napi_add_env_cleanup_hook(env, Cleanup, static_cast<napi_env>(env));
  return exports;
}

}  // namespace cephrbd

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return cephrbd::Init(env, exports); }
NODE_API_MODULE(ceph_rbd, InitModule)
