#include "rados_ioctx.h"

#include "common/addon_data.h"
#include "common/args.h"
#include "common/wrap.h"
#include "rados_cluster.h"

namespace cephrbd {

const napi_type_tag kIoCtxTag = {0x6b3f2a1c9d4e4f02ULL, 0xa1b2c3d4e5f60719ULL};

void IoCtx::Init(Napi::Env env, Napi::Object exports) {
  Props props = {
      InstanceMethod<&IoCtx::Close>("close"),
      InstanceAccessor<&IoCtx::GetPoolName>("pool"),
      InstanceAccessor<&IoCtx::GetNamespace>("namespace"),
      InstanceAccessor<&IoCtx::GetPoolId>("poolId"),
      InstanceAccessor<&IoCtx::GetState>("state"),
      InstanceMethod<&IoCtx::SetPoolFullTry>("setPoolFullTry"),
  };
  AddObjectMethods(props);
  Napi::Function ctor = DefineClass(env, "IoCtx", props);
  AddonData::Get(env)->ioctxCtor = Napi::Persistent(ctor);
  exports.Set("IoCtx", ctor);
}

namespace {
struct IoCtxPayload {
  RadosCluster* cluster;
  rados_ioctx_t io;
  std::string pool;
  std::string ns;
};
}  // namespace

Napi::Object IoCtx::Create(Napi::Env env, RadosCluster* cluster, rados_ioctx_t io,
                           const std::string& pool, const std::string& ns) {
  auto* payload = new IoCtxPayload{cluster, io, pool, ns};
  return NewFromAddon(env, AddonData::Get(env)->ioctxCtor, payload);
}

IoCtx* IoCtx::FromValue(Napi::Env env, Napi::Value v) {
  return UnwrapTagged<IoCtx>(env, v, kIoCtxTag, "IoCtx");
}

IoCtx::IoCtx(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<IoCtx>(info), Handle(info.Env(), "I/O context") {
  if (!IsFromAddon(info)) {
    throw Napi::TypeError::New(info.Env(), "IoCtx cannot be constructed directly; use cluster.openIoctx()");
  }
  std::unique_ptr<IoCtxPayload> p(info[1].As<Napi::External<IoCtxPayload>>().Data());
  io_ = p->io;
  pool_ = p->pool;
  ns_ = p->ns;
  poolId_ = rados_ioctx_get_id(io_);  // Implements: rados_ioctx_get_id (local)
  parentRef_ = Napi::Persistent(p->cluster->JsObject());
  TagObject(info.Env(), Value(), kIoCtxTag);
  AttachTo(p->cluster);
}

IoCtx::~IoCtx() { ForgetOnCollect(); }

std::function<void()> IoCtx::TakeRelease() {
  rados_ioctx_t io = io_;
  io_ = nullptr;
  if (io == nullptr) return nullptr;
  return [io] { rados_ioctx_destroy(io); };  // Implements: rados_ioctx_destroy
}

ErrorContext IoCtx::Ctx(const char* op, const char* family) const {
  ErrorContext ctx;
  ctx.op = op;
  ctx.family = family;
  ctx.pool = pool_;
  ctx.nspace = ns_;
  return ctx;
}

Napi::Value IoCtx::Close(const Napi::CallbackInfo& info) { return CloseHandle(info.Env(), this); }
Napi::Value IoCtx::GetPoolName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), pool_); }
Napi::Value IoCtx::GetNamespace(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ns_); }
Napi::Value IoCtx::GetPoolId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(poolId_));
}
Napi::Value IoCtx::GetState(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), StateName());
}

// Implements: rados_set_pool_full_try, rados_unset_pool_full_try
// A flag on this context (does not block): while set, operations on a full
// pool are sent anyway instead of waiting for space, so the OSD answers
// writes that need space with ENOSPC/EDQUOT and lets deletes through (what
// `rbd rm` does on a full cluster). librbd copies it into the images opened
// through this context. Set it before starting operations on the context.
Napi::Value IoCtx::SetPoolFullTry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBoolean()) ThrowType(env, "Expected a boolean for enabled");
  if (!IsOpen()) throw Napi::Error(env, MakeClosedError(env, "IoCtx.setPoolFullTry", Kind()));
  if (info[0].As<Napi::Boolean>().Value()) {
    rados_set_pool_full_try(io_);
  } else {
    rados_unset_pool_full_try(io_);
  }
  return env.Undefined();
}

}  // namespace cephrbd
