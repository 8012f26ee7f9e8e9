// rados_ioctx_t: an I/O context on one pool (and namespace), plus the
// object, xattr and omap operations (rados_object.cc).
#pragma once
#include <napi.h>
#include <rados/librados.h>

#include <string>
#include <vector>

#include "common/errors.h"
#include "common/handle.h"

namespace cephrbd {

class RadosCluster;
extern const napi_type_tag kIoCtxTag;

class IoCtx : public Napi::ObjectWrap<IoCtx>, public Handle {
 public:
  using Props = std::vector<Napi::ClassPropertyDescriptor<IoCtx>>;
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Create(Napi::Env env, RadosCluster* cluster, rados_ioctx_t io,
                             const std::string& pool, const std::string& ns);
  static IoCtx* FromValue(Napi::Env env, Napi::Value v);

  explicit IoCtx(const Napi::CallbackInfo& info);
  ~IoCtx() override;

  rados_ioctx_t io() const { return io_; }
  const std::string& pool() const { return pool_; }
  const std::string& nspace() const { return ns_; }
  // rbd_namespace.cc: after rados_ioctx_set_namespace succeeded.
  void set_nspace(const std::string& ns) { ns_ = ns; }
  Napi::Object JsObject() override { return Value(); }
  // Error context for a call in this pool: family "rados" or "rbd".
  ErrorContext Ctx(const char* op, const char* family = "rados") const;

 private:
  friend void AddObjectMethods(Props& props);
  std::function<void()> TakeRelease() override;
  void OnClosed() override { parentRef_.Reset(); }

  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPoolName(const Napi::CallbackInfo& info);
  Napi::Value GetNamespace(const Napi::CallbackInfo& info);
  Napi::Value GetPoolId(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetPoolFullTry(const Napi::CallbackInfo& info);

  // rados_object.cc
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value WriteFull(const Napi::CallbackInfo& info);
  Napi::Value Append(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value StatObject(const Napi::CallbackInfo& info);
  Napi::Value GetXattr(const Napi::CallbackInfo& info);
  Napi::Value SetXattr(const Napi::CallbackInfo& info);
  Napi::Value RmXattr(const Napi::CallbackInfo& info);
  Napi::Value ListXattrs(const Napi::CallbackInfo& info);
  Napi::Value OmapSet(const Napi::CallbackInfo& info);
  Napi::Value OmapGet(const Napi::CallbackInfo& info);
  Napi::Value OmapRemove(const Napi::CallbackInfo& info);
  Napi::Value OmapClear(const Napi::CallbackInfo& info);
  Napi::Value ListObjects(const Napi::CallbackInfo& info);

  rados_ioctx_t io_ = nullptr;
  int64_t poolId_ = -1;
  std::string pool_;
  std::string ns_;
  Napi::ObjectReference parentRef_;
};

// rados_object.cc: registers the object/xattr/omap methods.
void AddObjectMethods(IoCtx::Props& props);

}  // namespace cephrbd
