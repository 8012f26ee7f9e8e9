// Pool-level librbd: create, remove, rename, list, pool init and the
// rbd_default_features parser (this file); clone is in rbd_clone.cc and the
// trash in rbd_admin_trash.cc. Module functions taking an IoCtx.
#include "rbd_admin.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rados_ioctx.h"

namespace cephrbd {

ErrorContext ImageCtx(IoCtx* ioctx, const char* op, const std::string& image) {
  ErrorContext ctx = ioctx->Ctx(op, "rbd");
  ctx.image = image;
  return ctx;
}

// Reads { order, features, stripeUnit, stripeCount, dataPool } into image options.
ImageOptions ReadImageOptions(Napi::Env env, Napi::Value v) {
  ImageOptions o;
  if (!v.IsObject()) return o;
  Napi::Object obj = v.As<Napi::Object>();
  auto u64 = [&](const char* key, bool& has, uint64_t& out) {
    Napi::Value x = obj.Get(key);
    if (x.IsUndefined() || x.IsNull()) return;
    out = ToU64(env, x, key);
    has = true;
  };
  u64("order", o.hasOrder, o.order);
  u64("features", o.hasFeatures, o.features);
  u64("stripeUnit", o.hasStripeUnit, o.stripeUnit);
  u64("stripeCount", o.hasStripeCount, o.stripeCount);
  u64("cloneFormat", o.hasCloneFormat, o.cloneFormat);
  Napi::Value dp = obj.Get("dataPool");
  if (dp.IsString()) o.dataPool = dp.As<Napi::String>().Utf8Value();
  return o;
}

// Implements: rbd_image_options_create, rbd_image_options_set_uint64,
// rbd_image_options_set_string, rbd_image_options_destroy
int WithImageOptions(const ImageOptions& o, const std::function<int(rbd_image_options_t)>& fn) {
  rbd_image_options_t opts;
  rbd_image_options_create(&opts);
  int rc = 0;
  auto set = [&](int key, uint64_t value) {
    if (rc == 0) rc = rbd_image_options_set_uint64(opts, key, value);
  };
  set(RBD_IMAGE_OPTION_FORMAT, 2);
  if (o.hasOrder) set(RBD_IMAGE_OPTION_ORDER, o.order);
  if (o.hasFeatures) set(RBD_IMAGE_OPTION_FEATURES, o.features);
  if (o.hasStripeUnit) set(RBD_IMAGE_OPTION_STRIPE_UNIT, o.stripeUnit);
  if (o.hasStripeCount) set(RBD_IMAGE_OPTION_STRIPE_COUNT, o.stripeCount);
  if (o.hasCloneFormat) set(RBD_IMAGE_OPTION_CLONE_FORMAT, o.cloneFormat);
  if (rc == 0 && !o.dataPool.empty()) {
    rc = rbd_image_options_set_string(opts, RBD_IMAGE_OPTION_DATA_POOL, o.dataPool.c_str());
  }
  if (rc == 0) rc = fn(opts);
  rbd_image_options_destroy(opts);
  return rc;
}

// The rbd_default_features in effect for new images in the pool of `io`
// (the cluster's value with `rbd config pool set` overrides applied), which
// is what rbd_create4 uses when no features are given. Falls back to the
// client's configuration should the pool list lack the option. The value
// is read by librbd's own parser (names or a number).
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
      rc = rbd_features_from_string(options[i].value, out);
      break;
    }
  }
  rbd_config_pool_list_cleanup(options.data(), count);
  if (rc == -ENOENT) {
    char value[256];
    rc = rados_conf_get(rados_ioctx_get_cluster(io), "rbd_default_features", value, sizeof(value));
    if (rc == 0) rc = rbd_features_from_string(value, out);
  }
  return rc;
}

// featuresFromString(text) -> bits: librbd's parser of rbd_default_features
// (a number, or names such as "layering,exclusive-lock"); InvalidArgument
// (EINVAL) for an unknown name. Pure computation: no worker needed.
// Implements: rbd_features_from_string
static Napi::Value FeaturesFromString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text = ArgString(info, 0, "text");
  uint64_t features = 0;
  int rc = rbd_features_from_string(text.c_str(), &features);
  if (rc < 0) {
    ErrorContext ctx;
    ctx.op = "rbd.featuresFromString";
    ctx.family = "rbd";
    throw Napi::Error(env, MakeCephError(env, rc, ctx));
  }
  return Napi::Number::New(env, static_cast<double>(features));
}

// featuresToString(bits) -> "layering,exclusive-lock,...": librbd's names.
// Implements: rbd_features_to_string
static Napi::Value FeaturesToString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t features = ArgU64(info, 0, "features");
  std::vector<char> text;
  int rc = GrowAndRetry(text, 256, [&](char* data, size_t* len) {
    return rbd_features_to_string(features, data, len);
  });
  if (rc < 0) {
    ErrorContext ctx;
    ctx.op = "rbd.featuresToString";
    ctx.family = "rbd";
    throw Napi::Error(env, MakeCephError(env, rc, ctx));
  }
  return Napi::String::New(env, text.data());
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

// create(ioctx, name, size, options)
// Implements: rbd_create4
static Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  uint64_t size = ArgU64(info, 2, "size");
  ImageOptions o = ReadImageOptions(env, info[3]);
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, ImageCtx(ioctx, "Rbd.create", name), [io, name, size, o] {
    return WithImageOptions(o, [&](rbd_image_options_t opts) { return rbd_create4(io, name.c_str(), size, opts); });
  });
}

// remove(ioctx, name, onProgress?, cancelFlag?)
// Implements: rbd_remove, rbd_remove_with_progress
static Napi::Value Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ImageCtx(ioctx, "Rbd.remove", name), info[2], info[3],
      [io, name] { return rbd_remove(io, name.c_str()); },
      [io, name](librbd_progress_fn_t fn, void* arg) { return rbd_remove_with_progress(io, name.c_str(), fn, arg); });
}

// rename(ioctx, src, dst)
// Implements: rbd_rename
static Napi::Value Rename(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string src = ArgString(info, 1, "src");
  std::string dst = ArgString(info, 2, "dst");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, ImageCtx(ioctx, "Rbd.rename", src),
                      [io, src, dst] { return rbd_rename(io, src.c_str(), dst.c_str()); });
}

namespace {
struct Spec {
  std::string id;
  std::string name;
};
}  // namespace

// list(ioctx) -> [{ id, name }]
// Implements: rbd_list2, rbd_image_spec_list_cleanup
static Napi::Value List(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::vector<Spec>>(
      env, ioctx, ioctx->Ctx("Rbd.list", "rbd"),
      [io](std::vector<Spec>& out) {
        std::vector<rbd_image_spec_t> specs;
        size_t count = 0;
        int rc = GrowAndRetry(specs, 64, [&](rbd_image_spec_t* data, size_t* len) {
          int r = rbd_list2(io, data, len);
          count = *len;
          return r;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) out.push_back({specs[i].id, specs[i].name});
        rbd_image_spec_list_cleanup(specs.data(), count);
        return 0;
      },
      [](Napi::Env env, std::vector<Spec>& specs) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, specs.size());
        for (size_t i = 0; i < specs.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("id", specs[i].id);
          o.Set("name", specs[i].name);
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// version() -> { major, minor, extra }
// Implements: rbd_version
static Napi::Value Version(const Napi::CallbackInfo& info) {
  int major = 0, minor = 0, extra = 0;
  rbd_version(&major, &minor, &extra);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("major", major);
  o.Set("minor", minor);
  o.Set("extra", extra);
  return o;
}

void InitRbdAdmin(Napi::Env env, Napi::Object exports) {
  Napi::Object rbd = Napi::Object::New(env);
  rbd.Set("create", Napi::Function::New(env, Create, "create"));
  rbd.Set("remove", Napi::Function::New(env, Remove, "remove"));
  rbd.Set("rename", Napi::Function::New(env, Rename, "rename"));
  rbd.Set("list", Napi::Function::New(env, List, "list"));
  rbd.Set("version", Napi::Function::New(env, Version, "version"));
  rbd.Set("poolInit", Napi::Function::New(env, PoolInit, "poolInit"));
  rbd.Set("featuresFromString", Napi::Function::New(env, FeaturesFromString, "featuresFromString"));
  rbd.Set("featuresToString", Napi::Function::New(env, FeaturesToString, "featuresToString"));
  AddCloneFunction(env, rbd);
  AddTrashFunctions(env, rbd);
  exports.Set("rbd", rbd);
}

}  // namespace cephrbd
