#include "rbd_ext.h"

#include "common/progress.h"
#include "common/worker.h"

namespace cephrbd {

Napi::Promise RunPlainOrProgress(Napi::Env env, Handle* handle, ErrorContext ctx,
                                 Napi::Value onProgress, Napi::Value cancelFlag,
                                 std::function<int()> plain,
                                 std::function<int(librbd_progress_fn_t, void*)> withProgress) {
  if (!onProgress.IsFunction() && !cancelFlag.IsTypedArray()) {
    return RunAsyncVoid(env, handle, std::move(ctx), std::move(plain));
  }
  return RunWithProgress(env, handle, std::move(ctx), onProgress, cancelFlag, std::move(withProgress));
}

void InitRbdExt(Napi::Env env, Napi::Object exports) {
  Napi::Object rbdx = Napi::Object::New(env);
  AddNamespaceFunctions(env, rbdx);
  AddGroupFunctions(env, rbdx);
  AddEncryptionFunctions(env, rbdx);
  AddConfigFunctions(env, rbdx);
  AddUpdateWatchFunctions(env, rbdx);
  AddMigrationFunctions(env, rbdx);
  AddSnapExtFunctions(env, rbdx);
  AddImageExtFunctions(env, rbdx);
  AddImageOptionsClass(env, rbdx);
  exports.Set("rbdx", rbdx);
}

}  // namespace cephrbd
