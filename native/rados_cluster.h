// rados_t: connect, configuration, pools, cluster stats and mon commands.
#pragma once
#include <napi.h>
#include <rados/librados.h>

#include "common/errors.h"
#include "common/handle.h"

namespace cephrbd {

extern const napi_type_tag kRadosTag;

class RadosCluster : public Napi::ObjectWrap<RadosCluster>, public Handle {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Module function connect(options) -> Promise<RadosCluster>.
  static Napi::Value Connect(const Napi::CallbackInfo& info);
  static RadosCluster* FromValue(Napi::Env env, Napi::Value v);

  explicit RadosCluster(const Napi::CallbackInfo& info);
  ~RadosCluster() override;

  rados_t cluster() const { return cluster_; }
  Napi::Object JsObject() override { return Value(); }
  ErrorContext Ctx(const char* op, const std::string& pool = std::string()) const;

 private:
  std::function<void()> TakeRelease() override;

  Napi::Value Fsid(const Napi::CallbackInfo& info);
  Napi::Value InstanceId(const Napi::CallbackInfo& info);
  Napi::Value ConfGet(const Napi::CallbackInfo& info);
  Napi::Value ConfSet(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value ListPools(const Napi::CallbackInfo& info);
  Napi::Value CreatePool(const Napi::CallbackInfo& info);
  Napi::Value DeletePool(const Napi::CallbackInfo& info);
  Napi::Value PoolLookup(const Napi::CallbackInfo& info);
  Napi::Value PoolReverseLookup(const Napi::CallbackInfo& info);
  Napi::Value PoolStat(const Napi::CallbackInfo& info);
  Napi::Value MonCommand(const Napi::CallbackInfo& info);
  Napi::Value WaitForLatestOsdMap(const Napi::CallbackInfo& info);
  Napi::Value OpenIoctx(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);

  rados_t cluster_ = nullptr;
};

// close()/shutdown() of any handle: resolves once it and its children are closed.
Napi::Promise CloseHandle(Napi::Env env, Handle* handle);

}  // namespace cephrbd
