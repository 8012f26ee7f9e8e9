// Shared pieces of the three handle classes (cluster, I/O context, image).
#pragma once
#include <napi.h>

#include <string>

namespace cephrbd {

// Native handle objects are only made by the addon itself: a constructor
// call from JS without this token is a TypeError.
struct ConstructToken {};
inline ConstructToken* TheConstructToken() {
  static ConstructToken token;
  return &token;
}

inline bool IsFromAddon(const Napi::CallbackInfo& info) {
  return info.Length() >= 2 && info[0].IsExternal() &&
         info[0].As<Napi::External<ConstructToken>>().Data() == TheConstructToken();
}

inline Napi::Value TokenValue(Napi::Env env) {
  return Napi::External<ConstructToken>::New(env, TheConstructToken());
}

// Builds the JS object of a native class from C++ with a payload pointer.
template <typename Payload>
Napi::Object NewFromAddon(Napi::Env env, Napi::FunctionReference& ctor, Payload* payload,
                          std::initializer_list<napi_value> extra = {}) {
  std::vector<napi_value> args = {TokenValue(env), Napi::External<Payload>::New(env, payload)};
  args.insert(args.end(), extra.begin(), extra.end());
  return ctor.New(args);
}

inline void TagObject(Napi::Env env, Napi::Object obj, const napi_type_tag& tag) {
  napi_status status = napi_type_tag_object(env, obj, &tag);
  if (status != napi_ok) throw Napi::Error::New(env, "could not tag a native handle");
}

}  // namespace cephrbd
