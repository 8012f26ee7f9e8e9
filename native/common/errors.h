// One error path: a negative Ceph return code becomes a JS Error shaped like
// Node's system errors (code, errno, op, and the pool/image/snapshot it was about).
#pragma once
#include <napi.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace cephrbd {

// What an operation was about, copied into plain C++ before any worker runs.
struct ErrorContext {
  std::string op;         // the JS-facing operation name, e.g. "Image.open"
  std::string family;     // "rados" or "rbd": lib/errors.ts maps errno per family
  std::string pool;
  std::string nspace;
  std::string image;
  std::string snapshot;
  std::string object;
  // Calls on a writable image (Image::Ctx): its connection's
  // rados_osd_op_timeout in ms (0: none, or not such a call) and when the
  // call began. MakeCephError passes both to lib/errors.ts (lockTimeoutMs,
  // elapsedMs), which turns librbd's EROFS/EBADMSG after at least that long
  // (the exclusive lock lost to the op timeout) into TimedOut.
  int64_t lockTimeoutMs = 0;
  std::chrono::steady_clock::time_point started{};
};

// Builds the error for a negative rc, passing it through the factory that
// lib/errors.ts registered (so it arrives as ImageNotFound, ImageExists, ...).
Napi::Value MakeCephError(Napi::Env env, int rc, const ErrorContext& ctx);

// A call on a handle that is closing or closed.
Napi::Value MakeClosedError(Napi::Env env, const std::string& op, const char* what);

// The errno name ("ENOENT") for a positive errno value; "E<number>" when unknown.
std::string ErrnoName(int err);

// Napi method: setErrorFactory(fn).
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);

}  // namespace cephrbd
