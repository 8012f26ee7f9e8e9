// librados aio on I/O contexts: each call is submitted on the JS thread and
// settles through the one aio dispatcher (common/aio.h), without a worker
// thread per operation. Data Buffers are pinned (not copied) until the
// completion fires; out-values (stat, xattr, exec) live in heap state owned
// by the operation's converter. Writes resolve with the object's new version.
#include <cerrno>
#include <climits>
#include <memory>
#include <string>

#include "common/aio.h"
#include "common/args.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

Napi::Value RadosErrorFor(Napi::Env env, int64_t rc, const ErrorContext& ctx) {
  if (rc <= -kRadosMaxErrno) {
    Napi::Value err = MakeCephError(env, -EILSEQ, ctx);
    if (err.IsObject()) {
      err.As<Napi::Object>().Set("mismatchOffset", Napi::Number::New(env, static_cast<double>(-rc - kRadosMaxErrno)));
    }
    return err;
  }
  return MakeCephError(env, static_cast<int>(rc), ctx);
}

ErrorContext ObjectContext(const IoCtx& io, const char* op, const std::string& oid) {
  ErrorContext ctx = io.Ctx(op);
  ctx.object = oid;
  return ctx;
}

void ThrowClosed(Napi::Env env, const char* op, Handle* handle) {
  throw Napi::Error(env, MakeClosedError(env, op, handle->Kind()));
}

Napi::Object StatObject(Napi::Env env, uint64_t size, time_t mtime) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  o.Set("mtimeMs", Napi::Number::New(env, static_cast<double>(mtime) * 1000.0));
  return o;
}

namespace {

using OkFn = std::function<Napi::Value(Napi::Env, int64_t rc, uint64_t version)>;

// Submits `submit(completion)` for `io`, pinning `pins`; the Promise settles
// with ok(env, rc, version), or the typed error of a negative rc.
template <typename Submit>
Napi::Value RunAio(Napi::Env env, IoCtx* io, const ErrorContext& ctx, Submit submit, OkFn ok,
                   std::initializer_list<Napi::Object> pins = {}) {
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto* op = new AioOp(env, io, ctx);
  for (const Napi::Object& pin : pins) op->Pin(pin);
  op->ConvertWith([ctx, ok = std::move(ok)](Napi::Env e, int64_t rc, uint64_t version) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, RadosErrorFor(e, rc, ctx));
    return ok ? ok(e, rc, version) : e.Undefined();
  });
  return op->StartRados(env, submit);
}

Napi::Value Version(Napi::Env env, int64_t, uint64_t version) {
  return Napi::Number::New(env, static_cast<double>(version));
}

Napi::Value Count(Napi::Env env, int64_t rc, uint64_t) { return Napi::Number::New(env, static_cast<double>(rc)); }

size_t CapInt(size_t len) { return len > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(INT_MAX) : len; }

struct Call {
  IoCtx* io;
  std::string oid;
  ErrorContext ctx;
};

Call Begin(const Napi::CallbackInfo& info, const char* op) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  return Call{io, oid, ObjectContext(*io, op, oid)};
}

const char* Chars(const Napi::Buffer<uint8_t>& b) { return reinterpret_cast<const char*>(b.Data()); }

// aioWrite(ioctx, oid, data, offset) -> version
// Implements: rados_aio_write
Napi::Value AioWrite(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioWrite");
  auto buf = ArgBuffer(info, 2, "data");
  uint64_t off = ArgU64(info, 3, "offset");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_write(io, c.oid.c_str(), comp, Chars(buf), buf.Length(), off); },
      Version, {buf});
}

// aioWriteFull(ioctx, oid, data) -> version
// Implements: rados_aio_write_full
Napi::Value AioWriteFull(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioWriteFull");
  auto buf = ArgBuffer(info, 2, "data");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_write_full(io, c.oid.c_str(), comp, Chars(buf), buf.Length()); },
      Version, {buf});
}

// aioAppend(ioctx, oid, data) -> version
// Implements: rados_aio_append
Napi::Value AioAppend(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioAppend");
  auto buf = ArgBuffer(info, 2, "data");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_append(io, c.oid.c_str(), comp, Chars(buf), buf.Length()); },
      Version, {buf});
}

// aioWriteSame(ioctx, oid, data, writeLength, offset) -> version: `data`
// repeated over writeLength bytes (a multiple of its length).
// Implements: rados_aio_writesame
Napi::Value AioWriteSame(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioWriteSame");
  auto buf = ArgBuffer(info, 2, "data");
  uint64_t writeLen = ArgU64(info, 3, "writeLength");
  uint64_t off = ArgU64(info, 4, "offset");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) {
        return rados_aio_writesame(io, c.oid.c_str(), comp, Chars(buf), buf.Length(), writeLen, off);
      },
      Version, {buf});
}

// aioRead(ioctx, oid, buffer, offset) -> bytes read into buffer
// Implements: rados_aio_read
Napi::Value AioRead(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioRead");
  auto buf = ArgBuffer(info, 2, "buffer");
  uint64_t off = ArgU64(info, 3, "offset");
  rados_ioctx_t io = c.io->io();
  char* data = reinterpret_cast<char*>(buf.Data());
  size_t len = CapInt(buf.Length());
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_read(io, c.oid.c_str(), comp, data, len, off); }, Count, {buf});
}

// Implements: rados_aio_remove
Napi::Value AioRemove(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioRemove");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx, [&](rados_completion_t comp) { return rados_aio_remove(io, c.oid.c_str(), comp); },
      nullptr);
}

// aioStat(ioctx, oid) -> { size, mtimeMs }
// Implements: rados_aio_stat
Napi::Value AioStat(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioStat");
  rados_ioctx_t io = c.io->io();
  struct Out {
    uint64_t size = 0;
    time_t mtime = 0;
  };
  auto out = std::make_shared<Out>();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_stat(io, c.oid.c_str(), comp, &out->size, &out->mtime); },
      [out](Napi::Env env, int64_t, uint64_t) -> Napi::Value { return StatObject(env, out->size, out->mtime); });
}

// aioGetXattr(ioctx, oid, name, buffer) -> value length (ERANGE when the buffer is too small)
// Implements: rados_aio_getxattr
Napi::Value AioGetXattr(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioGetXattr");
  std::string name = ArgString(info, 2, "name");
  auto buf = ArgBuffer(info, 3, "buffer");
  rados_ioctx_t io = c.io->io();
  char* data = reinterpret_cast<char*>(buf.Data());
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) {
        return rados_aio_getxattr(io, c.oid.c_str(), comp, name.c_str(), data, buf.Length());
      },
      Count, {buf});
}

// Implements: rados_aio_setxattr
Napi::Value AioSetXattr(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioSetXattr");
  std::string name = ArgString(info, 2, "name");
  auto buf = ArgBuffer(info, 3, "value");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) {
        return rados_aio_setxattr(io, c.oid.c_str(), comp, name.c_str(), Chars(buf), buf.Length());
      },
      nullptr, {buf});
}

// Implements: rados_aio_rmxattr
Napi::Value AioRmXattr(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioRmXattr");
  std::string name = ArgString(info, 2, "name");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_rmxattr(io, c.oid.c_str(), comp, name.c_str()); }, nullptr);
}

// aioCmpExt(ioctx, oid, expected, offset): rejects with EILSEQ (mismatchOffset) on a difference.
// Implements: rados_aio_cmpext
Napi::Value AioCmpExt(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioCmpExt");
  auto buf = ArgBuffer(info, 2, "expected");
  uint64_t off = ArgU64(info, 3, "offset");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) { return rados_aio_cmpext(io, c.oid.c_str(), comp, Chars(buf), buf.Length(), off); },
      nullptr, {buf});
}

// aioExec(ioctx, oid, cls, method, input, outBuffer) -> bytes of output
// Implements: rados_aio_exec
Napi::Value AioExec(const Napi::CallbackInfo& info) {
  Call c = Begin(info, "IoCtx.aioExec");
  std::string cls = ArgString(info, 2, "cls");
  std::string method = ArgString(info, 3, "method");
  auto in = ArgBuffer(info, 4, "input");
  auto out = ArgBuffer(info, 5, "output");
  rados_ioctx_t io = c.io->io();
  return RunAio(
      info.Env(), c.io, c.ctx,
      [&](rados_completion_t comp) {
        return rados_aio_exec(io, c.oid.c_str(), comp, cls.c_str(), method.c_str(), Chars(in), in.Length(),
                              reinterpret_cast<char*>(out.Data()), out.Length());
      },
      Count, {in, out});
}

// aioFlush(ioctx): settles once every aio write submitted before it is safe.
// Implements: rados_aio_flush_async
Napi::Value AioFlush(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  rados_ioctx_t handle = io->io();
  return RunAio(
      info.Env(), io, io->Ctx("IoCtx.aioFlush"),
      [&](rados_completion_t comp) { return rados_aio_flush_async(handle, comp); }, nullptr);
}

}  // namespace

void InitRadosAio(Napi::Env env, Napi::Object ns) {
  auto fn = [&](const char* name, Napi::Value (*cb)(const Napi::CallbackInfo&)) { ns.Set(name, Napi::Function::New(env, cb, name)); };
  fn("aioWrite", AioWrite);
  fn("aioWriteFull", AioWriteFull);
  fn("aioAppend", AioAppend);
  fn("aioWriteSame", AioWriteSame);
  fn("aioRead", AioRead);
  fn("aioRemove", AioRemove);
  fn("aioStat", AioStat);
  fn("aioGetXattr", AioGetXattr);
  fn("aioSetXattr", AioSetXattr);
  fn("aioRmXattr", AioRmXattr);
  fn("aioCmpExt", AioCmpExt);
  fn("aioExec", AioExec);
  fn("aioFlush", AioFlush);
}

}  // namespace cephrbd
