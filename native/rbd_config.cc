// Pool metadata (rbd_pool_metadata_*) and the effective librbd config of a
// pool or image (rbd_config_*_list). Pacific has no rbd_config_*_set: a
// pool-level override is the pool metadata key "conf_<option>", an
// image-level one the image metadata key "conf_<option>" (rbd_metadata_set),
// which is what `rbd config pool/image set` writes.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/args.h"
#include "common/pairs.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

namespace {
using Pairs = std::vector<std::pair<std::string, std::string>>;


struct ConfigEntry {
  std::string name;
  std::string value;
  int source;
};

Napi::Value ConfigToArray(Napi::Env env, std::vector<ConfigEntry>& list) {
  Napi::Array arr = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", list[i].name);
    o.Set("value", list[i].value);
    const char* src = list[i].source == RBD_CONFIG_SOURCE_POOL    ? "pool"
                      : list[i].source == RBD_CONFIG_SOURCE_IMAGE ? "image"
                                                                  : "config";
    o.Set("source", src);
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

ErrorContext KeyCtx(IoCtx* ioctx, const char* op, const std::string& key) {
  ErrorContext ctx = ioctx->Ctx(op, "rbd");
  ctx.object = key;
  return ctx;
}
}  // namespace

// poolMetadataGet(ioctx, key): ENOENT when the key is not set.
// Implements: rbd_pool_metadata_get
static Napi::Value PoolMetadataGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string key = ArgString(info, 1, "key");
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::string>(
      env, ioctx, KeyCtx(ioctx, "PoolMetadata.get", key),
      [io, key](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) {
          return rbd_pool_metadata_get(io, key.c_str(), data, len);
        });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      [](Napi::Env env, std::string& v) { return Napi::String::New(env, v); });
}

// Implements: rbd_pool_metadata_set
static Napi::Value PoolMetadataSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string key = ArgString(info, 1, "key");
  std::string value = ArgString(info, 2, "value");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, KeyCtx(ioctx, "PoolMetadata.set", key),
                      [io, key, value] { return rbd_pool_metadata_set(io, key.c_str(), value.c_str()); });
}

// Implements: rbd_pool_metadata_remove
static Napi::Value PoolMetadataRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string key = ArgString(info, 1, "key");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, KeyCtx(ioctx, "PoolMetadata.remove", key),
                      [io, key] { return rbd_pool_metadata_remove(io, key.c_str()); });
}

// poolMetadataList(ioctx, startAfter, max) -> [[key, value], ...]: one page
// of at most `max` keys after `startAfter` (lib/ pages through with it).
// Implements: rbd_pool_metadata_list
static Napi::Value PoolMetadataList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string start = ArgOptString(info, 1, "startAfter");
  uint64_t max = ArgU64(info, 2, "max");
  rados_ioctx_t io = ioctx->io();
  return RunAsync<Pairs>(
      env, ioctx, ioctx->Ctx("PoolMetadata.list", "rbd"),
      [io, start, max](Pairs& out) {
        size_t keyLen = 4096, valLen = 4096;
        std::vector<char> keys, vals;
        int rc = -ERANGE;
        for (int attempt = 0; attempt < 32 && rc == -ERANGE; ++attempt) {
          keys.resize(keyLen);
          vals.resize(valLen);
          size_t k = keyLen, v = valLen;
          rc = rbd_pool_metadata_list(io, start.c_str(), max, keys.data(), &k, vals.data(), &v);
          keyLen = std::max(k, keyLen * 2);
          valLen = std::max(v, valLen * 2);
          if (rc >= 0) {
            std::vector<std::string> ks = SplitNulList(keys.data(), k);
            std::vector<std::string> vs = SplitNulList(vals.data(), v);
            for (size_t i = 0; i < ks.size() && i < vs.size(); ++i) out.emplace_back(ks[i], vs[i]);
          }
        }
        return rc < 0 ? rc : 0;
      },
      StringPairsToArray);
}

// configPoolList(ioctx) -> [{ name, value, source }]: every rbd_* option
// as images of this pool see it (pool overrides applied).
// Implements: rbd_config_pool_list, rbd_config_pool_list_cleanup
static Napi::Value ConfigPoolList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::vector<ConfigEntry>>(
      env, ioctx, ioctx->Ctx("PoolConfig.list", "rbd"),
      [io](std::vector<ConfigEntry>& out) {
        std::vector<rbd_config_option_t> opts;
        int count = 0;
        int rc = GrowAndRetry(opts, 256, [&](rbd_config_option_t* data, size_t* len) {
          int max = static_cast<int>(*len);
          int r = rbd_config_pool_list(io, data, &max);
          if (r == -ERANGE) *len = static_cast<size_t>(max);
          if (r >= 0) count = max;
          return r < 0 ? r : 0;
        });
        if (rc < 0) return rc;
        for (int i = 0; i < count; ++i) out.push_back({opts[i].name, opts[i].value, opts[i].source});
        rbd_config_pool_list_cleanup(opts.data(), count);
        return 0;
      },
      ConfigToArray);
}

// configImageList(image) -> [{ name, value, source }]: every rbd_* option
// as this image sees it, and where its value comes from.
// Implements: rbd_config_image_list, rbd_config_image_list_cleanup
static Napi::Value ConfigImageList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_image_t img = image->image();
  return RunAsync<std::vector<ConfigEntry>>(
      env, image, image->Ctx("Image.configList"),
      [img](std::vector<ConfigEntry>& out) {
        std::vector<rbd_config_option_t> opts;
        int count = 0;
        int rc = GrowAndRetry(opts, 256, [&](rbd_config_option_t* data, size_t* len) {
          int max = static_cast<int>(*len);
          int r = rbd_config_image_list(img, data, &max);
          if (r == -ERANGE) *len = static_cast<size_t>(max);
          if (r >= 0) count = max;
          return r < 0 ? r : 0;
        });
        if (rc < 0) return rc;
        for (int i = 0; i < count; ++i) out.push_back({opts[i].name, opts[i].value, opts[i].source});
        rbd_config_image_list_cleanup(opts.data(), count);
        return 0;
      },
      ConfigToArray);
}

void AddConfigFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "poolMetadataGet", PoolMetadataGet);
  SetFn(env, rbdx, "poolMetadataSet", PoolMetadataSet);
  SetFn(env, rbdx, "poolMetadataRemove", PoolMetadataRemove);
  SetFn(env, rbdx, "poolMetadataList", PoolMetadataList);
  SetFn(env, rbdx, "configPoolList", ConfigPoolList);
  SetFn(env, rbdx, "configImageList", ConfigImageList);
}

}  // namespace cephrbd
