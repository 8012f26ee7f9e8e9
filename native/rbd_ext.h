// The `rbdx` module object: librbd calls beyond the core image/pool set,
// one file per concern, all module functions taking an IoCtx or an Image
// handle as their first argument:
//   rbd_namespace.cc     RBD namespaces, IoCtx namespace switch
//   rbd_group.cc         groups, group images, group snapshots
//   rbd_encryption.cc    LUKS1/LUKS2 format and load
//   rbd_config.cc        pool metadata, per-pool/per-image config overrides
//   rbd_update_watch.cc  update watch and quiesce watch (callbacks on the JS thread)
//   rbd_migration.cc     live migration
//   rbd_snap_ext.cc      snapshot namespaces, by-id operations, snap_create2
//   rbd_image_options.cc ImageOptions (rbd_image_options_t as a JS object)
//   rbd_image_ext.cc     legacy locks, writesame, compare-and-write, resize2,
//                        pool stats, descendants, aio variants, aio open/close
#pragma once
#include <napi.h>
#include <rbd/librbd.h>

#include <functional>
#include <string>

#include "common/errors.h"
#include "common/handle.h"

namespace cephrbd {

class Image;
class IoCtx;

void InitRbdExt(Napi::Env env, Napi::Object exports);

void AddNamespaceFunctions(Napi::Env env, Napi::Object rbdx);
void AddGroupFunctions(Napi::Env env, Napi::Object rbdx);
void AddEncryptionFunctions(Napi::Env env, Napi::Object rbdx);
void AddConfigFunctions(Napi::Env env, Napi::Object rbdx);
void AddUpdateWatchFunctions(Napi::Env env, Napi::Object rbdx);
void AddMigrationFunctions(Napi::Env env, Napi::Object rbdx);
void AddSnapExtFunctions(Napi::Env env, Napi::Object rbdx);
void AddImageExtFunctions(Napi::Env env, Napi::Object rbdx);
void AddImageOptionsClass(Napi::Env env, Napi::Object rbdx);

// A plain call when neither a progress callback nor a cancel flag is given
// (no thread-safe function, no progress bookkeeping), else the
// *_with_progress variant through RunWithProgress.
Napi::Promise RunPlainOrProgress(Napi::Env env, Handle* handle, ErrorContext ctx,
                                 Napi::Value onProgress, Napi::Value cancelFlag,
                                 std::function<int()> plain,
                                 std::function<int(librbd_progress_fn_t, void*)> withProgress);

inline void SetFn(Napi::Env env, Napi::Object target, const char* name, Napi::Function::Callback cb) {
  target.Set(name, Napi::Function::New(env, cb, name));
}

}  // namespace cephrbd
