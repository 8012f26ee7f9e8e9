// The rule for every completion, finalizer and cleanup hook: no C++
// exception may leave it. They run from libuv or V8 (C frames, noexcept in
// effect), so an escaping exception is std::terminate; and while an
// environment shuts down (worker.terminate(), FreeEnvironment) every N-API
// call that could run JS fails, so node-addon-api throws Napi::Error from
// calls that cannot fail otherwise (Deferred::Resolve, Object::Set, ...).
//
//   NoThrow([&] { deferred.Resolve(value); });   // a result nobody can receive is dropped
//   NoThrow([&] { handle->Leave(env); });        // bookkeeping in its own step
//
// Keep the steps separate: a failed settle must not skip the bookkeeping
// after it (Leave, End, delete), or a handle stays busy and is never released.
#pragma once

#include <utility>

namespace cephrbd {

// Runs fn(); any exception is swallowed. Returns false when one was thrown.
template <typename Fn>
bool NoThrow(Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace cephrbd
