// Keeps a JS object alive while native work uses it, and, when it is a
// Buffer/TypedArray/DataView/ArrayBuffer, keeps its memory alive too: a
// reference keeps the object from being collected, but not its ArrayBuffer
// from being detached (structuredClone(ab, { transfer: [ab] }),
// postMessage(..., [ab])), after which the memory belongs to the clone and
// is freed with it while librbd may still read or write it.
//
// A Pin therefore also holds a share of the ArrayBuffer's backing store (the
// memory itself, which a transfer moves to the clone without copying): the
// memory is freed only once the clone is gone *and* every Pin dropped. A
// transfer during an operation still succeeds; the clone sees the bytes the
// operation reads. N-API has no call for this, so pin.cc uses V8's
// ArrayBuffer::GetBackingStore directly (the addon is built against the
// running Node's headers).
//
// JS thread only: make and drop Pins inside a HandleScope.
#pragma once
#include <napi.h>

#include <memory>

namespace v8 {
class BackingStore;
}

namespace cephrbd {

class Pin {
 public:
  Pin(Napi::Env env, Napi::Object value);
  ~Pin() = default;
  Pin(Pin&& other) noexcept = default;
  Pin& operator=(Pin&&) = delete;
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;

  // Drops both now (never throws).
  void Reset() noexcept;

 private:
  Napi::ObjectReference ref_;
  std::shared_ptr<v8::BackingStore> memory_;
};

}  // namespace cephrbd
