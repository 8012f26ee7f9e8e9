// More single-call object operations, each on a worker thread: truncate,
// compare-extent, writesame, class method calls, checksums, allocation hints.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

// truncate(ioctx, oid, size)
// Implements: rados_trunc
Napi::Value Trunc(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t size = ArgU64(info, 2, "size");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "IoCtx.truncate", oid),
                      [h, oid, size] { return rados_trunc(h, oid.c_str(), size); });
}

// cmpext(ioctx, oid, expected, offset): rejects EILSEQ with mismatchOffset on a difference.
// Implements: rados_cmpext
Napi::Value CmpExt(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  auto buf = ArgBuffer(info, 2, "expected");
  uint64_t off = ArgU64(info, 3, "offset");
  rados_ioctx_t h = io->io();
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  ErrorContext ctx = ObjectContext(*io, "IoCtx.cmpext", oid);
  struct Out {
    int rc = 0;
  };
  return RunAsync<Out>(
      info.Env(), io, ctx,
      [h, oid, data, len, off](Out& out) {
        out.rc = rados_cmpext(h, oid.c_str(), data, len, off);
        return 0;  // a mismatch rc is not an errno: mapped below
      },
      [ctx](Napi::Env env, Out& out) -> Napi::Value {
        if (out.rc < 0) throw Napi::Error(env, RadosErrorFor(env, out.rc, ctx));
        return env.Undefined();
      },
      {buf});
}

// writeSame(ioctx, oid, data, writeLength, offset)
// Implements: rados_writesame
Napi::Value WriteSame(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  auto buf = ArgBuffer(info, 2, "data");
  uint64_t writeLen = ArgU64(info, 3, "writeLength");
  uint64_t off = ArgU64(info, 4, "offset");
  rados_ioctx_t h = io->io();
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return RunAsyncVoid(
      info.Env(), io, ObjectContext(*io, "IoCtx.writeSame", oid),
      [h, oid, data, len, writeLen, off] { return rados_writesame(h, oid.c_str(), data, len, writeLen, off); }, {buf});
}

// exec(ioctx, oid, cls, method, input, outBuffer) -> bytes of output in outBuffer
// Implements: rados_exec
Napi::Value Exec(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::string cls = ArgString(info, 2, "cls");
  std::string method = ArgString(info, 3, "method");
  auto in = ArgBuffer(info, 4, "input");
  auto out = ArgBuffer(info, 5, "output");
  rados_ioctx_t h = io->io();
  const char* inData = reinterpret_cast<const char*>(in.Data());
  size_t inLen = in.Length();
  char* outData = reinterpret_cast<char*>(out.Data());
  size_t outLen = out.Length();
  return RunAsyncCount(
      info.Env(), io, ObjectContext(*io, "IoCtx.exec", oid),
      [h, oid, cls, method, inData, inLen, outData, outLen]() -> int64_t {
        return rados_exec(h, oid.c_str(), cls.c_str(), method.c_str(), inData, inLen, outData, outLen);
      },
      {in, out});
}

// checksum(ioctx, oid, type, init, offset, length, chunkSize) -> one value per chunk
// (numbers for 32-bit types, bigints for xxhash64)
// Implements: rados_checksum
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t type = ArgU64(info, 2, "type");
  if (type > LIBRADOS_CHECKSUM_TYPE_CRC32C) throw Napi::RangeError::New(env, "type must be one of LIBRADOS_CHECKSUM_TYPE_*");
  auto initBuf = ArgBuffer(info, 3, "init");
  std::string init(reinterpret_cast<const char*>(initBuf.Data()), initBuf.Length());
  uint64_t off = ArgU64(info, 4, "offset");
  uint64_t len = ArgU64(info, 5, "length");
  uint64_t chunk = ArgU64(info, 6, "chunkSize");
  size_t width = type == LIBRADOS_CHECKSUM_TYPE_XXHASH64 ? 8 : 4;
  uint64_t count = chunk == 0 ? 1 : (len + chunk - 1) / chunk;
  if (count > (1u << 20)) throw Napi::RangeError::New(env, "checksum would return too many chunks");
  rados_ioctx_t h = io->io();
  return RunAsync<std::string>(
      env, io, ObjectContext(*io, "IoCtx.checksum", oid),
      [h, oid, type, init, off, len, chunk, width, count](std::string& out) {
        out.assign(4 + count * width, '\0');
        return rados_checksum(h, oid.c_str(), static_cast<rados_checksum_type_t>(type), init.data(), init.size(), len,
                              off, chunk, &out[0], out.size());
      },
      [width](Napi::Env e, std::string& out) -> Napi::Value {
        uint32_t n = 0;
        std::memcpy(&n, out.data(), 4);
        size_t fit = (out.size() - 4) / width;
        if (n > fit) n = static_cast<uint32_t>(fit);
        Napi::Array arr = Napi::Array::New(e, n);
        for (uint32_t k = 0; k < n; ++k) {
          const char* p = out.data() + 4 + k * width;
          if (width == 8) {
            uint64_t v = 0;
            std::memcpy(&v, p, 8);
            arr.Set(k, Napi::BigInt::New(e, v));
          } else {
            uint32_t v = 0;
            std::memcpy(&v, p, 4);
            arr.Set(k, Napi::Number::New(e, v));
          }
        }
        return arr;
      });
}

// setAllocHint(ioctx, oid, expectedObjectSize, expectedWriteSize, flags)
// Implements: rados_set_alloc_hint2
Napi::Value SetAllocHint(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t objSize = ArgU64(info, 2, "expectedObjectSize");
  uint64_t writeSize = ArgU64(info, 3, "expectedWriteSize");
  uint32_t flags = static_cast<uint32_t>(ArgU64(info, 4, "flags"));
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, ObjectContext(*io, "IoCtx.setAllocHint", oid), [h, oid, objSize, writeSize, flags] {
    return rados_set_alloc_hint2(h, oid.c_str(), objSize, writeSize, flags);
  });
}

}  // namespace

void InitRadosObjectMore(Napi::Env env, Napi::Object ns) {
  ns.Set("truncate", Napi::Function::New(env, Trunc, "truncate"));
  ns.Set("cmpext", Napi::Function::New(env, CmpExt, "cmpext"));
  ns.Set("writeSame", Napi::Function::New(env, WriteSame, "writeSame"));
  ns.Set("exec", Napi::Function::New(env, Exec, "exec"));
  ns.Set("checksum", Napi::Function::New(env, Checksum, "checksum"));
  ns.Set("setAllocHint", Napi::Function::New(env, SetAllocHint, "setAllocHint"));
}

}  // namespace cephrbd
