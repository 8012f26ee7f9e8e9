// librados beyond plain object I/O: compound operations, aio, watch/notify,
// object locks, pool and self-managed snapshots, cluster commands and
// cursor listings. Each file registers module functions on `addon.rados`
// (the native handle comes first, as `addon.rbd.*` does).
#pragma once
#include <napi.h>
#include <rados/librados.h>

#include <cstdint>
#include <string>

#include "common/errors.h"
#include "rados_cluster.h"
#include "rados_ioctx.h"

namespace cephrbd {

void InitRadosOps(Napi::Env env, Napi::Object ns);      // rados_op.cc
void InitRadosAio(Napi::Env env, Napi::Object ns);      // rados_aio.cc
void InitRadosWatch(Napi::Env env, Napi::Object exports, Napi::Object ns);  // rados_watch.cc
void InitRadosLock(Napi::Env env, Napi::Object ns);     // rados_lock.cc
void InitRadosSnap(Napi::Env env, Napi::Object ns);     // rados_pool_snap.cc
void InitRadosCommands(Napi::Env env, Napi::Object ns); // rados_commands.cc
void InitRadosList(Napi::Env env, Napi::Object exports, Napi::Object ns);  // rados_list.cc
void InitRadosObjectMore(Napi::Env env, Napi::Object ns);  // rados_object_more.cc

// librados' cmpext answers a mismatch as -MAX_ERRNO - offset.
constexpr int kRadosMaxErrno = 4095;

// MakeCephError, except that a cmpext mismatch becomes EILSEQ with
// `mismatchOffset` set (what librbd's compare-and-write answers).
Napi::Value RadosErrorFor(Napi::Env env, int64_t rc, const ErrorContext& ctx);

// The IoCtx / cluster argument i (TypeError for anything else).
inline IoCtx* ArgIoCtx(const Napi::CallbackInfo& info, size_t i) { return IoCtx::FromValue(info.Env(), info[i]); }
inline RadosCluster* ArgCluster(const Napi::CallbackInfo& info, size_t i) {
  return RadosCluster::FromValue(info.Env(), info[i]);
}

ErrorContext ObjectContext(const IoCtx& io, const char* op, const std::string& oid);

// A closed-handle error thrown synchronously (for the calls that do not block).
[[noreturn]] void ThrowClosed(Napi::Env env, const char* op, Handle* handle);

// { size, mtimeMs } of rados_stat & co.
Napi::Object StatObject(Napi::Env env, uint64_t size, time_t mtime);

}  // namespace cephrbd
