// Pool-level librbd functions (create, clone, remove, rename, list, trash, pool init, features).
#pragma once
#include <napi.h>
#include <rbd/librbd.h>

#include <functional>
#include <string>

#include "common/errors.h"

namespace cephrbd {

class IoCtx;

// Image creation options as given by lib/rbd.ts (all optional).
struct ImageOptions {
  bool hasOrder = false, hasFeatures = false, hasStripeUnit = false, hasStripeCount = false,
       hasCloneFormat = false;
  uint64_t order = 0, features = 0, stripeUnit = 0, stripeCount = 0, cloneFormat = 0;
  std::string dataPool;
};

ImageOptions ReadImageOptions(Napi::Env env, Napi::Value v);
// Builds an rbd_image_options_t (format 2 + the given options) around fn.
int WithImageOptions(const ImageOptions& o, const std::function<int(rbd_image_options_t)>& fn);
ErrorContext ImageCtx(IoCtx* ioctx, const char* op, const std::string& image);

// Exports the `rbd` namespace object of module functions.
void InitRbdAdmin(Napi::Env env, Napi::Object exports);
// The pool's rbd_default_features (pool overrides applied) as bits.
int DefaultFeatures(rados_ioctx_t io, uint64_t* out);
// rbd_clone.cc: clone onto the same object.
void AddCloneFunction(Napi::Env env, Napi::Object rbd);
// rbd_admin_trash.cc: trash* onto the same object.
void AddTrashFunctions(Napi::Env env, Napi::Object rbd);

}  // namespace cephrbd
