#include "common/pin.h"

#include <v8.h>

#include <cstring>

namespace cephrbd {

namespace {

// napi_value is a v8::Local<v8::Value> in Node's implementation of N-API
// (v8impl::V8LocalValueFromJsValue makes the same copy).
v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(value), "napi_value is a v8::Local");
  std::memcpy(static_cast<void*>(&local), &value, sizeof(value));
  return local;
}

// The backing store of a detachable ArrayBuffer under `v`, or null (plain
// objects; SharedArrayBuffer and wasm memory cannot be detached).
std::shared_ptr<v8::BackingStore> MemoryOf(v8::Local<v8::Value> v) {
  v8::Local<v8::ArrayBuffer> ab;
  if (v->IsArrayBufferView()) {
    v8::Local<v8::Value> buffer = v.As<v8::ArrayBufferView>()->Buffer();
    if (buffer->IsArrayBuffer()) ab = buffer.As<v8::ArrayBuffer>();
  } else if (v->IsArrayBuffer()) {
    ab = v.As<v8::ArrayBuffer>();
  }
  if (ab.IsEmpty() || !ab->IsDetachable() || ab->ByteLength() == 0) return nullptr;
  return ab->GetBackingStore();
}

}  // namespace

Pin::Pin(Napi::Env env, Napi::Object value)
    : ref_(Napi::Persistent(value)), memory_(MemoryOf(ToV8(value))) {}

// The memory is freed here if a transfer's clone is already gone.
void Pin::Reset() noexcept {
  try {
    ref_.Reset();
  } catch (...) {
  }
  memory_.reset();
}

}  // namespace cephrbd
