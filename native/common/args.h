// Checked argument readers. lib/validate.ts validates first with Node's error
// codes; these keep the addon itself safe against anything (wrong types,
// forged handles) so no input can crash the process.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace cephrbd {

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& what) {
  throw Napi::TypeError::New(env, what);
}

inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) ThrowType(info.Env(), std::string("Expected a string for ") + name);
  std::string value = info[i].As<Napi::String>().Utf8Value();
  if (value.find('\0') != std::string::npos) {
    ThrowType(info.Env(), std::string(name) + " must not contain NUL characters");
  }
  return value;
}

// A string, or "" for undefined/null.
inline std::string ArgOptString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return std::string();
  return ArgString(info, i, name);
}

// A non-negative safe integer Number or a BigInt that fits in 64 bits.
inline uint64_t ToU64(Napi::Env env, Napi::Value v, const char* name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t value = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, std::string(name) + " is out of range");
    return value;
  }
  if (!v.IsNumber()) ThrowType(env, std::string("Expected a number or bigint for ") + name);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(env, std::string(name) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

inline uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return ToU64(info.Env(), info[i], name);
}

inline int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string("Expected a number for ") + name);
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a safe integer");
  }
  return static_cast<int64_t>(d);
}

inline bool ArgBool(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsBoolean() && info[i].As<Napi::Boolean>().Value();
}

inline Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBuffer()) ThrowType(info.Env(), std::string("Expected a Buffer for ") + name);
  return info[i].As<Napi::Buffer<uint8_t>>();
}

inline Napi::Function ArgOptFunction(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info[i].IsUndefined() || info[i].IsNull()) return Napi::Function();
  if (!info[i].IsFunction()) ThrowType(info.Env(), std::string("Expected a function for ") + name);
  return info[i].As<Napi::Function>();
}

// Type tags: a forged or wrong object passed as a handle is a TypeError.
template <typename T>
T* UnwrapTagged(Napi::Env env, Napi::Value v, const napi_type_tag& tag, const char* name) {
  bool ok = false;
  if (v.IsObject()) {
    napi_status status = napi_check_object_type_tag(env, v, &tag, &ok);
    if (status != napi_ok) ok = false;
  }
  if (!ok) ThrowType(env, std::string("Expected a ") + name + " handle");
  return Napi::ObjectWrap<T>::Unwrap(v.As<Napi::Object>());
}

}  // namespace cephrbd
