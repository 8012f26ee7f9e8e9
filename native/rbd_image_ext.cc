// More image calls: legacy advisory locks (taking them), writesame and
// compare-and-write (sync and aio), resize2 (allow_shrink), aio with op
// flags and scatter/gather, old-format flag, descendants, pool stats, and
// copy with a sparse size.
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/aio.h"
#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_admin.h"
#include "rbd_ext.h"
#include "rbd_image.h"
#include "rbd_image_aio.h"

namespace cephrbd {

// lockExclusive(image, cookie) / lockShared(image, cookie, tag) /
// unlock(image, cookie): the legacy cls_lock advisory lock (what
// listLockers/breakLock see), not the managed exclusive-lock feature.
// Implements: rbd_lock_exclusive
static Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  std::string cookie = ArgString(info, 1, "cookie");
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, image->Ctx("Image.lockExclusive"),
                      [img, cookie] { return rbd_lock_exclusive(img, cookie.c_str()); });
}

// Implements: rbd_lock_shared
static Napi::Value LockShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  std::string cookie = ArgString(info, 1, "cookie");
  std::string tag = ArgString(info, 2, "tag");
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, image->Ctx("Image.lockShared"),
                      [img, cookie, tag] { return rbd_lock_shared(img, cookie.c_str(), tag.c_str()); });
}

// Implements: rbd_unlock
static Napi::Value Unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  std::string cookie = ArgString(info, 1, "cookie");
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, image->Ctx("Image.unlock"),
                      [img, cookie] { return rbd_unlock(img, cookie.c_str()); });
}

// writeSame(image, offset, length, pattern, opFlags) -> bytes written:
// `pattern` repeated over [offset, offset+length); length must be a
// multiple of the pattern's length (EINVAL otherwise).
// Implements: rbd_writesame
static Napi::Value WriteSame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t length = ArgU64(info, 2, "length");
  Napi::Buffer<uint8_t> pattern = ArgBuffer(info, 3, "pattern");
  int flags = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  rbd_image_t img = image->image();
  const char* data = reinterpret_cast<const char*>(pattern.Data());
  size_t dataLen = pattern.Length();
  return RunAsyncCount(
      env, image, image->Ctx("Image.writeSame"),
      [img, bounds = image->bounds(), offset, length, data, dataLen, flags]() -> int64_t {
        int rc = bounds->CheckWrite(img, offset, length);  // librbd would cut it at the end
        return rc < 0 ? rc : rbd_writesame(img, offset, length, data, dataLen, flags);
      },
      {pattern});
}

namespace {
struct CawResult {
  int64_t rc = 0;
  uint64_t mismatch = 0;
};
}  // namespace

// compareAndWrite(image, offset, compare, data, opFlags) -> bytes written.
// When the image differs from `compare`, rejects with EILSEQ and the
// error's `mismatchOffset` is the first differing byte, counted from `offset`.
// Implements: rbd_compare_and_write
static Napi::Value CompareAndWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  Napi::Buffer<uint8_t> cmp = ArgBuffer(info, 2, "compare");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 3, "data");
  int flags = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  if (cmp.Length() != buf.Length()) throw Napi::RangeError::New(env, "compare and data must have the same length");
  rbd_image_t img = image->image();
  const char* c = reinterpret_cast<const char*>(cmp.Data());
  const char* d = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  ErrorContext ctx = image->Ctx("Image.compareAndWrite");
  return RunAsync<CawResult>(
      env, image, ctx,
      [img, offset, c, d, len, flags](CawResult& out) {
        out.rc = rbd_compare_and_write(img, offset, len, c, d, &out.mismatch, flags);
        return 0;
      },
      [ctx](Napi::Env env, CawResult& r) -> Napi::Value {
        if (r.rc < 0) {
          Napi::Value err = MakeCephError(env, static_cast<int>(r.rc), ctx);
          if (r.rc == -EILSEQ && err.IsObject()) {
            err.As<Napi::Object>().Set("mismatchOffset", Napi::Number::New(env, static_cast<double>(r.mismatch)));
          }
          throw Napi::Error(env, err);
        }
        return Napi::Number::New(env, static_cast<double>(r.rc));
      },
      {cmp, buf});
}

// aioWriteSame(image, offset, length, pattern, opFlags) -> bytes written
// Implements: rbd_aio_writesame
static Napi::Value AioWriteSame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t length = ArgU64(info, 2, "length");
  Napi::Buffer<uint8_t> pattern = ArgBuffer(info, 3, "pattern");
  int flags = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  rbd_image_t img = image->image();
  const char* data = reinterpret_cast<const char*>(pattern.Data());
  size_t dataLen = pattern.Length();
  return StartImageWrite(
      env, image, "Image.aioWriteSame", offset, length,
      [img, offset, length, data, dataLen, flags](rbd_completion_t c) {
        return rbd_aio_writesame(img, offset, length, data, dataLen, c, flags);
      },
      {pattern});
}

// aioCompareAndWrite(image, offset, compare, data, mismatchOut, opFlags):
// `mismatchOut` (8 bytes, pinned) receives the mismatch offset on EILSEQ,
// which lib/ reads after the rejection.
// Implements: rbd_aio_compare_and_write
static Napi::Value AioCompareAndWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  Napi::Buffer<uint8_t> cmp = ArgBuffer(info, 2, "compare");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 3, "data");
  Napi::Buffer<uint8_t> out = ArgBuffer(info, 4, "mismatchOut");
  int flags = info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
  if (cmp.Length() != buf.Length()) throw Napi::RangeError::New(env, "compare and data must have the same length");
  if (out.Length() < sizeof(uint64_t)) throw Napi::RangeError::New(env, "mismatchOut must hold 8 bytes");
  rbd_image_t img = image->image();
  const char* c = reinterpret_cast<const char*>(cmp.Data());
  const char* d = reinterpret_cast<const char*>(buf.Data());
  auto* mismatch = reinterpret_cast<uint64_t*>(out.Data());
  size_t len = buf.Length();
  return StartImageAio(
      env, image, "Image.aioCompareAndWrite",
      [img, offset, c, d, len, mismatch, flags](rbd_completion_t comp) {
        return static_cast<int>(rbd_aio_compare_and_write(img, offset, len, c, d, comp, mismatch, flags));
      },
      {cmp, buf, out}, static_cast<int64_t>(len));
}

// aioRead2(image, offset, buffer, opFlags) / aioWrite2(image, buffer,
// offset, opFlags): LIBRADOS_OP_FLAG_FADVISE_* hints.
// Implements: rbd_aio_read2
static Napi::Value AioRead2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 2, "buffer");
  int flags = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
  if (buf.Length() == 0) throw Napi::RangeError::New(env, "buffer must not be empty");
  rbd_image_t img = image->image();
  char* data = reinterpret_cast<char*>(buf.Data());
  size_t len = buf.Length();
  return StartImageAio(
      env, image, "Image.aioRead2",
      [img, offset, data, len, flags](rbd_completion_t c) { return rbd_aio_read2(img, offset, len, data, c, flags); },
      {buf});
}

// Implements: rbd_aio_write2
static Napi::Value AioWrite2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "buffer");
  uint64_t offset = ArgU64(info, 2, "offset");
  int flags = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0;
  rbd_image_t img = image->image();
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return StartImageWrite(
      env, image, "Image.aioWrite2", offset, len,
      [img, offset, data, len, flags](rbd_completion_t c) { return rbd_aio_write2(img, offset, len, data, c, flags); },
      {buf});
}

// aioReadv(image, offset, buffers[]) / aioWritev(image, buffers[], offset):
// scatter/gather in one request. The iovec array lives in a pinned Buffer.
// Implements: rbd_aio_readv, rbd_aio_writev
static Napi::Value AioVector(const Napi::CallbackInfo& info, bool write) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  size_t bufIdx = write ? 1 : 2, offIdx = write ? 2 : 1;
  uint64_t offset = ArgU64(info, offIdx, "offset");
  if (!info[bufIdx].IsArray()) ThrowType(env, "Expected an array of Buffers for buffers");
  Napi::Array arr = info[bufIdx].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n == 0 || n > 1024) throw Napi::RangeError::New(env, "buffers must hold 1 to 1024 Buffers");
  Napi::Buffer<uint8_t> iovs = Napi::Buffer<uint8_t>::New(env, sizeof(iovec) * n);
  auto* iov = reinterpret_cast<iovec*>(iovs.Data());
  size_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsBuffer()) ThrowType(env, "Expected an array of Buffers for buffers");
    auto b = v.As<Napi::Buffer<uint8_t>>();
    iov[i].iov_base = b.Data();
    iov[i].iov_len = b.Length();
    total += b.Length();
  }
  if (total == 0) throw Napi::RangeError::New(env, "buffers must not all be empty");
  rbd_image_t img = image->image();
  int count = static_cast<int>(n);
  ErrorContext ctx = image->Ctx(write ? "Image.aioWritev" : "Image.aioReadv");
  if (!image->Enter()) return RejectClosed(env, ctx, image);
  auto* aio = new AioOp(env, image, std::move(ctx));
  // Each Buffer is pinned itself (the caller may change the array meanwhile), and the iovecs.
  for (uint32_t i = 0; i < n; ++i) aio->Pin(arr.Get(i).As<Napi::Object>());
  aio->Pin(iovs);
  if (!write) {
    return aio->Start(
        env, [img, iov, count, offset](rbd_completion_t c) { return rbd_aio_readv(img, iov, count, offset, c); },
        image->submitQueue());
  }
  aio->ResolveWith(static_cast<int64_t>(total));
  bool offThread = false;
  auto submit = InsideImage(
      image, offset, total,
      [img, iov, count, offset](rbd_completion_t c) { return rbd_aio_writev(img, iov, count, offset, c); }, &offThread);
  return aio->Start(env, std::move(submit), image->submitQueue(), offThread);
}
static Napi::Value AioReadv(const Napi::CallbackInfo& info) { return AioVector(info, false); }
static Napi::Value AioWritev(const Napi::CallbackInfo& info) { return AioVector(info, true); }

// resize2(image, size, allowShrink, onProgress?, cancel?): with
// allowShrink false a smaller size is refused (EINVAL) instead of
// discarding data.
// Implements: rbd_resize2
static Napi::Value Resize2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t size = ArgU64(info, 1, "size");
  bool allowShrink = ArgBool(info, 2);
  rbd_image_t img = image->image();
  return RunWithProgress(env, image, image->Ctx("Image.resize"), info[3], info[4],
                         [img, bounds = image->bounds(), size, allowShrink](librbd_progress_fn_t fn, void* arg) {
                           int rc = rbd_resize2(img, size, allowShrink, fn, arg);
                           bounds->Invalidate();
                           return rc;
                         });
}

// Implements: rbd_get_old_format
static Napi::Value OldFormat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_image_t img = image->image();
  return RunAsync<uint8_t>(
      env, image, image->Ctx("Image.oldFormat"), [img](uint8_t& out) { return rbd_get_old_format(img, &out); },
      [](Napi::Env env, uint8_t& v) { return Napi::Boolean::New(env, v != 0); });
}

namespace {
struct Linked {
  int64_t poolId;
  std::string pool, ns, id, name;
  bool trash;
};
}  // namespace

// listDescendants(image) -> every clone of the image's current snapshot
// (or of all its snapshots at the head), recursively.
// Implements: rbd_list_descendants, rbd_linked_image_spec_list_cleanup
static Napi::Value ListDescendants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_image_t img = image->image();
  return RunAsync<std::vector<Linked>>(
      env, image, image->Ctx("Image.listDescendants"),
      [img](std::vector<Linked>& out) {
        std::vector<rbd_linked_image_spec_t> specs;
        size_t count = 0;
        int rc = GrowAndRetry(specs, 16, [&](rbd_linked_image_spec_t* data, size_t* len) {
          int r = rbd_list_descendants(img, data, len);
          count = *len;
          return r;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) {
          const auto& s = specs[i];
          out.push_back({s.pool_id, s.pool_name, s.pool_namespace, s.image_id, s.image_name, s.trash});
        }
        rbd_linked_image_spec_list_cleanup(specs.data(), count);
        return 0;
      },
      [](Napi::Env env, std::vector<Linked>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("poolId", Napi::Number::New(env, static_cast<double>(list[i].poolId)));
          o.Set("pool", list[i].pool);
          o.Set("namespace", list[i].ns);
          o.Set("id", list[i].id);
          o.Set("image", list[i].name);
          o.Set("trash", list[i].trash);
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// poolStats(ioctx) -> { images, imageProvisionedBytes, ... } for the RBD
// images of the ioctx's pool and namespace.
// Implements: rbd_pool_stats_create, rbd_pool_stats_option_add_uint64,
// rbd_pool_stats_get, rbd_pool_stats_destroy
static Napi::Value PoolStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  using Stats = std::vector<uint64_t>;
  return RunAsync<Stats>(
      env, ioctx, ioctx->Ctx("Rbd.poolStats", "rbd"),
      [io](Stats& out) {
        out.assign(8, 0);
        rbd_pool_stats_t stats;
        rbd_pool_stats_create(&stats);
        int rc = 0;
        for (int i = 0; i < 8 && rc == 0; ++i) rc = rbd_pool_stats_option_add_uint64(stats, i, &out[i]);
        if (rc == 0) rc = rbd_pool_stats_get(io, stats);
        rbd_pool_stats_destroy(stats);
        return rc;
      },
      [](Napi::Env env, Stats& s) -> Napi::Value {
        static const char* kNames[] = {"images", "imageProvisionedBytes", "imageMaxProvisionedBytes",
                                       "imageSnapshots", "trashImages", "trashProvisionedBytes",
                                       "trashMaxProvisionedBytes", "trashSnapshots"};
        static_assert(RBD_POOL_STAT_OPTION_TRASH_SNAPSHOTS == 7, "pool stat options");
        Napi::Object o = Napi::Object::New(env);
        for (int i = 0; i < 8; ++i) o.Set(kNames[i], Napi::Number::New(env, static_cast<double>(s[i])));
        return o;
      });
}

// copySparse(image, destIoctx, destName, options, sparseSize, onProgress?, cancel?):
// a copy that leaves zeroed runs of `sparseSize` bytes unallocated.
// Implements: rbd_copy4, rbd_copy_with_progress4
static Napi::Value CopySparse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  IoCtx* dest = IoCtx::FromValue(env, info[1]);
  std::string destName = ArgString(info, 2, "destName");
  ImageOptions o = ReadImageOptions(env, info[3]);
  uint64_t sparse = ArgU64(info, 4, "sparseSize");
  ErrorContext ctx = image->Ctx("Image.copy");
  std::shared_ptr<void> ref = EnterSecondHandle(env, dest);
  if (!ref) return RejectClosed(env, ctx, dest);
  rbd_image_t img = image->image();
  rados_ioctx_t dio = dest->io();
  return RunPlainOrProgress(
      env, image, ctx, info[5], info[6],
      [ref, img, dio, destName, o, sparse] {
        return WithImageOptions(o, [&](rbd_image_options_t opts) {
          return rbd_copy4(img, dio, destName.c_str(), opts, sparse);
        });
      },
      [ref, img, dio, destName, o, sparse](librbd_progress_fn_t fn, void* arg) {
        return WithImageOptions(o, [&](rbd_image_options_t opts) {
          return rbd_copy_with_progress4(img, dio, destName.c_str(), opts, fn, arg, sparse);
        });
      });
}

void AddImageExtFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "lockExclusive", LockExclusive);
  SetFn(env, rbdx, "lockShared", LockShared);
  SetFn(env, rbdx, "unlock", Unlock);
  SetFn(env, rbdx, "writeSame", WriteSame);
  SetFn(env, rbdx, "compareAndWrite", CompareAndWrite);
  SetFn(env, rbdx, "aioWriteSame", AioWriteSame);
  SetFn(env, rbdx, "aioCompareAndWrite", AioCompareAndWrite);
  SetFn(env, rbdx, "aioRead2", AioRead2);
  SetFn(env, rbdx, "aioWrite2", AioWrite2);
  SetFn(env, rbdx, "aioReadv", AioReadv);
  SetFn(env, rbdx, "aioWritev", AioWritev);
  SetFn(env, rbdx, "resize2", Resize2);
  SetFn(env, rbdx, "oldFormat", OldFormat);
  SetFn(env, rbdx, "listDescendants", ListDescendants);
  SetFn(env, rbdx, "poolStats", PoolStats);
  SetFn(env, rbdx, "copySparse", CopySparse);
}

}  // namespace cephrbd
