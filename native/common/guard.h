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
//
// node-addon-api is built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
// (binding.gyp): during termination its callback wrappers drop an error
// they cannot throw instead of rethrowing it into libuv (std::terminate).
//
// Calls into JS from a completion or a thread-safe-function callback go
// through CallNoThrow, never Napi::Function::Call: when worker.terminate()
// lands while JS runs, the pending exception is V8's termination value (not
// an object), and node-addon-api's Error::New wraps such a value with
// napi_define_properties, which fails during termination and aborts the
// process (FATAL ERROR: Error::Error napi_define_properties).
#pragma once

#include <napi.h>

#include <initializer_list>
#include <utility>
#include <vector>

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

// Calls fn(args...) with the raw N-API call. On failure (fn threw, or the
// environment can no longer run JS) the pending exception is dropped and
// false is returned; `result`, when given, is set only on success.
inline bool CallNoThrow(napi_env env, napi_value fn, std::initializer_list<napi_value> args,
                        napi_value* result = nullptr) noexcept {
  napi_value recv = nullptr;
  if (napi_get_undefined(env, &recv) != napi_ok) return false;
  std::vector<napi_value> argv(args);
  napi_value out = nullptr;
  if (napi_call_function(env, recv, fn, argv.size(), argv.data(), &out) == napi_ok) {
    if (result != nullptr) *result = out;
    return true;
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value dropped = nullptr;
    napi_get_and_clear_last_exception(env, &dropped);
  }
  return false;
}

}  // namespace cephrbd
