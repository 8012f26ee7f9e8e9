// Advisory object locks (cls_lock): exclusive or shared, named, held by a
// (client, cookie) pair, optionally for a duration. A second client asking
// for a lock another holds gets EBUSY; the holder asking again gets EEXIST
// (unless it renews).
#include <cerrno>
#include <cmath>
#include <string>
#include <sys/time.h>
#include <vector>

#include "common/aio.h"
#include "common/args.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

struct LockArgs {
  rados_ioctx_t io;
  std::string oid, name, cookie, tag, desc;
  double durationMs;
  uint8_t flags;
};

LockArgs ReadLockArgs(const Napi::CallbackInfo& info, bool shared) {
  IoCtx* io = ArgIoCtx(info, 0);
  LockArgs a;
  a.io = io->io();
  a.oid = ArgString(info, 1, "oid");
  a.name = ArgString(info, 2, "name");
  a.cookie = ArgString(info, 3, "cookie");
  size_t i = 4;
  if (shared) a.tag = ArgString(info, i++, "tag");
  a.desc = ArgOptString(info, i++, "description");
  a.durationMs = static_cast<double>(ArgU64(info, i++, "durationMs"));
  a.flags = static_cast<uint8_t>(ArgU64(info, i, "flags"));
  return a;
}

timeval Duration(double ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(std::floor(ms / 1000));
  tv.tv_usec = static_cast<suseconds_t>((ms - tv.tv_sec * 1000.0) * 1000.0);
  return tv;
}

// lockExclusive(ioctx, oid, name, cookie, description, durationMs, flags); durationMs 0 = until unlocked
// Implements: rados_lock_exclusive
Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  LockArgs a = ReadLockArgs(info, false);
  IoCtx* io = ArgIoCtx(info, 0);
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "IoCtx.lockExclusive", a.oid), [a] {
    timeval tv = Duration(a.durationMs);
    return rados_lock_exclusive(a.io, a.oid.c_str(), a.name.c_str(), a.cookie.c_str(), a.desc.c_str(),
                                a.durationMs > 0 ? &tv : nullptr, a.flags);
  });
}

// lockShared(ioctx, oid, name, cookie, tag, description, durationMs, flags)
// Implements: rados_lock_shared
Napi::Value LockShared(const Napi::CallbackInfo& info) {
  LockArgs a = ReadLockArgs(info, true);
  IoCtx* io = ArgIoCtx(info, 0);
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "IoCtx.lockShared", a.oid), [a] {
    timeval tv = Duration(a.durationMs);
    return rados_lock_shared(a.io, a.oid.c_str(), a.name.c_str(), a.cookie.c_str(), a.tag.c_str(), a.desc.c_str(),
                             a.durationMs > 0 ? &tv : nullptr, a.flags);
  });
}

// unlock(ioctx, oid, name, cookie): through the aio dispatcher.
// Implements: rados_aio_unlock
Napi::Value Unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::string name = ArgString(info, 2, "name");
  std::string cookie = ArgString(info, 3, "cookie");
  ErrorContext ctx = ObjectContext(*io, "IoCtx.unlock", oid);
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto* op = new AioOp(env, io, ctx);
  op->ConvertWith([ctx](Napi::Env e, int64_t rc, uint64_t) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, RadosErrorFor(e, rc, ctx));
    return e.Undefined();
  });
  rados_ioctx_t h = io->io();
  return op->StartRados(env, [&](rados_completion_t c) {
    return rados_aio_unlock(h, oid.c_str(), name.c_str(), cookie.c_str(), c);
  });
}

struct Lockers {
  bool exclusive = false;
  std::string tag;
  std::vector<std::string> clients, cookies, addrs;
};

// listLockers(ioctx, oid, name) -> { exclusive, tag, lockers: [{ client, cookie, address }] }
// Implements: rados_list_lockers
Napi::Value ListLockers(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::string name = ArgString(info, 2, "name");
  rados_ioctx_t h = io->io();
  return RunAsync<Lockers>(
      info.Env(), io, ObjectContext(*io, "IoCtx.listLockers", oid),
      [h, oid, name](Lockers& out) {
        size_t sizes[4] = {256, 1024, 1024, 1024};
        for (int attempt = 0; attempt < 16; ++attempt) {
          std::vector<char> tag(sizes[0]), clients(sizes[1]), cookies(sizes[2]), addrs(sizes[3]);
          size_t lens[4] = {sizes[0], sizes[1], sizes[2], sizes[3]};
          int exclusive = 0;
          ssize_t n = rados_list_lockers(h, oid.c_str(), name.c_str(), &exclusive, tag.data(), &lens[0], clients.data(),
                                         &lens[1], cookies.data(), &lens[2], addrs.data(), &lens[3]);
          if (n == -ERANGE) {
            for (int k = 0; k < 4; ++k) sizes[k] = lens[k] > sizes[k] ? lens[k] : sizes[k] * 2;
            continue;
          }
          if (n < 0) return static_cast<int>(n);
          out.exclusive = exclusive != 0;
          out.tag.assign(tag.data(), strnlen(tag.data(), lens[0]));
          out.clients = SplitNulList(clients.data(), lens[1]);
          out.cookies = SplitNulList(cookies.data(), lens[2]);
          out.addrs = SplitNulList(addrs.data(), lens[3]);
          return 0;
        }
        return -ERANGE;
      },
      [](Napi::Env env, Lockers& l) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("exclusive", Napi::Boolean::New(env, l.exclusive));
        o.Set("tag", Napi::String::New(env, l.tag));
        Napi::Array arr = Napi::Array::New(env, l.clients.size());
        for (size_t k = 0; k < l.clients.size(); ++k) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("client", l.clients[k]);
          e.Set("cookie", k < l.cookies.size() ? l.cookies[k] : std::string());
          e.Set("address", k < l.addrs.size() ? l.addrs[k] : std::string());
          arr.Set(static_cast<uint32_t>(k), e);
        }
        o.Set("lockers", arr);
        return o;
      });
}

// breakLock(ioctx, oid, name, client, cookie): removes another client's lock.
// Implements: rados_break_lock
Napi::Value BreakLock(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::string name = ArgString(info, 2, "name");
  std::string client = ArgString(info, 3, "client");
  std::string cookie = ArgString(info, 4, "cookie");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "IoCtx.breakLock", oid), [h, oid, name, client, cookie] {
    return rados_break_lock(h, oid.c_str(), name.c_str(), client.c_str(), cookie.c_str());
  });
}

}  // namespace

void InitRadosLock(Napi::Env env, Napi::Object ns) {
  ns.Set("lockExclusive", Napi::Function::New(env, LockExclusive, "lockExclusive"));
  ns.Set("lockShared", Napi::Function::New(env, LockShared, "lockShared"));
  ns.Set("unlock", Napi::Function::New(env, Unlock, "unlock"));
  ns.Set("listLockers", Napi::Function::New(env, ListLockers, "listLockers"));
  ns.Set("breakLock", Napi::Function::New(env, BreakLock, "breakLock"));
}

}  // namespace cephrbd
