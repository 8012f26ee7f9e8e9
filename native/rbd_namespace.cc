// RBD namespaces (rbd_namespace_*) and switching an open I/O context to
// another RADOS namespace (rados_ioctx_set_namespace).
#include <cerrno>
#include <vector>

#include "common/args.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_ext.h"

namespace cephrbd {

static ErrorContext NsCtx(IoCtx* ioctx, const char* op, const std::string& ns) {
  ErrorContext ctx = ioctx->Ctx(op, "rbd");
  ctx.nspace = ns;
  return ctx;
}

// namespaceCreate(ioctx, name): the ioctx must be in the default namespace.
// Implements: rbd_namespace_create
static Napi::Value NamespaceCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, NsCtx(ioctx, "Namespace.create", name),
                      [io, name] { return rbd_namespace_create(io, name.c_str()); });
}

// Implements: rbd_namespace_remove
static Napi::Value NamespaceRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunAsyncVoid(env, ioctx, NsCtx(ioctx, "Namespace.remove", name),
                      [io, name] { return rbd_namespace_remove(io, name.c_str()); });
}

// Implements: rbd_namespace_exists
static Napi::Value NamespaceExists(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunAsync<bool>(
      env, ioctx, NsCtx(ioctx, "Namespace.exists", name),
      [io, name](bool& out) { return rbd_namespace_exists(io, name.c_str(), &out); },
      [](Napi::Env env, bool& v) { return Napi::Boolean::New(env, v); });
}

// Turns a NUL-separated name list into a JS array.
static Napi::Value NameArray(Napi::Env env, std::vector<std::string>& names) {
  Napi::Array arr = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) arr.Set(static_cast<uint32_t>(i), names[i]);
  return arr;
}

// Implements: rbd_namespace_list
static Napi::Value NamespaceList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::vector<std::string>>(
      env, ioctx, ioctx->Ctx("Namespace.list", "rbd"),
      [io](std::vector<std::string>& out) {
        std::vector<char> buf;
        size_t used = 0;
        int rc = GrowAndRetry(buf, 1024, [&](char* data, size_t* len) {
          int r = rbd_namespace_list(io, data, len);
          used = *len;
          return r;
        });
        if (rc < 0) return rc;
        out = SplitNulList(buf.data(), std::min(used, buf.size()));
        return 0;
      },
      NameArray);
}

// ioctxSetNamespace(ioctx, ns): rados_ioctx_set_namespace does not block,
// but it must not race a call in flight on the same ioctx (a worker thread
// reads the namespace when it submits): refused with EBUSY then. Images
// already open keep the namespace they were opened in.
// Implements: rados_ioctx_set_namespace
static Napi::Value IoctxSetNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string ns = ArgOptString(info, 1, "namespace");
  ErrorContext ctx = ioctx->Ctx("IoCtx.setNamespace");  // a rados call: EBUSY is ObjectBusy
  ctx.nspace = ns;
  if (!ioctx->IsOpen()) throw Napi::Error(env, MakeClosedError(env, ctx.op, ioctx->Kind()));
  if (ioctx->inflight() > 0) throw Napi::Error(env, MakeCephError(env, -EBUSY, ctx));
  rados_ioctx_set_namespace(ioctx->io(), ns.empty() ? nullptr : ns.c_str());
  ioctx->set_nspace(ns);
  return env.Undefined();
}

void AddNamespaceFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "namespaceCreate", NamespaceCreate);
  SetFn(env, rbdx, "namespaceRemove", NamespaceRemove);
  SetFn(env, rbdx, "namespaceExists", NamespaceExists);
  SetFn(env, rbdx, "namespaceList", NamespaceList);
  SetFn(env, rbdx, "ioctxSetNamespace", IoctxSetNamespace);
}

}  // namespace cephrbd
