#include "common/errors.h"

#include <string.h>

#include "common/addon_data.h"
#include "common/guard.h"

namespace cephrbd {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  return name ? std::string(name) : "E" + std::to_string(err);
}

static std::string Describe(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  return text ? std::string(text) : "Unknown error " + std::to_string(err);
}

static Napi::Value Typed(Napi::Env env, Napi::Error error) {
  AddonData* data = AddonData::Get(env);
  if (data == nullptr || data->errorFactory.IsEmpty()) return error.Value();
  napi_value typed = nullptr;
  if (!CallNoThrow(env, data->errorFactory.Value(), {error.Value()}, &typed)) return error.Value();
  Napi::Value value(env, typed);
  return value.IsObject() ? value : error.Value();
}

Napi::Value MakeCephError(Napi::Env env, int rc, const ErrorContext& ctx) {
  int err = rc < 0 ? -rc : rc;
  std::string about;
  auto add = [&about](const char* key, const std::string& value) {
    if (value.empty()) return;
    about += about.empty() ? " (" : ", ";
    about += key;
    about += "=";
    about += value;
  };
  add("pool", ctx.pool);
  add("namespace", ctx.nspace);
  add("image", ctx.image);
  add("snapshot", ctx.snapshot);
  add("object", ctx.object);
  if (!about.empty()) about += ")";

  Napi::Error error = Napi::Error::New(env, ctx.op + ": " + Describe(err) + about);
  Napi::Object obj = error.Value();
  obj.Set("code", ErrnoName(err));
  obj.Set("errno", Napi::Number::New(env, -err));
  obj.Set("op", ctx.op);
  obj.Set("family", ctx.family);
  if (!ctx.pool.empty()) obj.Set("pool", ctx.pool);
  if (!ctx.nspace.empty()) obj.Set("namespace", ctx.nspace);
  if (!ctx.image.empty()) obj.Set("image", ctx.image);
  if (!ctx.snapshot.empty()) obj.Set("snapshot", ctx.snapshot);
  if (!ctx.object.empty()) obj.Set("object", ctx.object);
  if (ctx.lockTimeoutMs > 0) {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - ctx.started);
    obj.Set("lockTimeoutMs", Napi::Number::New(env, static_cast<double>(ctx.lockTimeoutMs)));
    obj.Set("elapsedMs", Napi::Number::New(env, static_cast<double>(elapsed.count())));
  }
  return Typed(env, error);
}

Napi::Value MakeClosedError(Napi::Env env, const std::string& op, const char* what) {
  Napi::Error error = Napi::Error::New(env, op + ": the " + what + " is closed");
  error.Value().Set("code", "ERR_CEPH_CLOSED");
  error.Value().Set("op", op);
  return Typed(env, error);
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setErrorFactory expects a function");
  }
  AddonData::Get(info.Env())->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace cephrbd
