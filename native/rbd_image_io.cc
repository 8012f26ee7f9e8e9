// Image data path: read/write/discard/flush on worker threads, the same
// operations on librbd's aio completions, and diff-iterate.
//
// Buffers cross without copies: the JS Buffer's memory is handed to librbd
// and the Buffer stays referenced (pinned) until the operation settles.
#include <cerrno>
#include <vector>

#include "common/aio.h"
#include "common/args.h"
#include "common/worker.h"
#include "rbd_image.h"
#include "rbd_image_aio.h"

namespace cephrbd {

void Image::AddIoMethods(Props& props) {
  props.push_back(InstanceMethod<&Image::Read>("read"));
  props.push_back(InstanceMethod<&Image::Write>("write"));
  props.push_back(InstanceMethod<&Image::AioRead>("aioRead"));
  props.push_back(InstanceMethod<&Image::AioWrite>("aioWrite"));
  props.push_back(InstanceMethod<&Image::AioFlush>("aioFlush"));
  props.push_back(InstanceMethod<&Image::AioDiscard>("aioDiscard"));
  props.push_back(InstanceMethod<&Image::AioWriteZeroes>("aioWriteZeroes"));
  props.push_back(InstanceMethod<&Image::Discard>("discard"));
  props.push_back(InstanceMethod<&Image::WriteZeroes>("writeZeroes"));
  props.push_back(InstanceMethod<&Image::Flush>("flush"));
  props.push_back(InstanceMethod<&Image::InvalidateCache>("invalidateCache"));
  props.push_back(InstanceMethod<&Image::DiffIterate>("diffIterate"));
}

// librbd cuts a write that runs past the end of the image short, leaving a
// partial write behind; write and aioWrite refuse it whole instead
// (python-rbd's InvalidArgument), checked against ImageBounds
// (rbd_image_bounds.h: without a librbd call on the JS thread for most writes).

// read(offset, buffer) -> bytes read (fewer at the end of the image).
// Implements: rbd_read2
Napi::Value Image::Read(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "buffer");
  rbd_image_t img = image_;
  char* data = reinterpret_cast<char*>(buf.Data());
  size_t len = buf.Length();
  return RunAsyncCount(
      info.Env(), this, Ctx("Image.read"),
      [img, offset, data, len]() -> int64_t {
        // librbd aborts the process on an empty read (ceph_assert(buffer &&
        // length == total_intended_len) in Striper::assemble_result): nothing to read.
        if (len == 0) return 0;
        return rbd_read2(img, offset, len, data, 0);
      },
      {buf});
}

// write(buffer, offset) -> bytes written.
// Implements: rbd_write2
Napi::Value Image::Write(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 0, "buffer");
  uint64_t offset = ArgU64(info, 1, "offset");
  rbd_image_t img = image_;
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return RunAsyncCount(
      info.Env(), this, Ctx("Image.write"),
      [img, bounds = bounds_, offset, data, len]() -> int64_t {
        int rc = bounds->CheckWrite(img, offset, len);
        return rc < 0 ? rc : rbd_write2(img, offset, len, data, 0);
      },
      {buf});
}

// Implements: rbd_aio_read
Napi::Value Image::AioRead(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "buffer");
  rbd_image_t img = image_;
  char* data = reinterpret_cast<char*>(buf.Data());
  size_t len = buf.Length();
  if (len == 0) {
    // librbd aborts the process on an empty read (see Read): settle it here,
    // after the same closed check StartImageAio makes.
    if (!IsOpen()) return RejectClosed(info.Env(), Ctx("Image.aioRead"), this);
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    deferred.Resolve(Napi::Number::New(info.Env(), 0));
    return deferred.Promise();
  }
  return StartImageAio(
      info.Env(), this, "Image.aioRead",
      [img, offset, data, len](rbd_completion_t c) { return rbd_aio_read(img, offset, len, data, c); }, {buf});
}

// Implements: rbd_aio_write
Napi::Value Image::AioWrite(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 0, "buffer");
  uint64_t offset = ArgU64(info, 1, "offset");
  rbd_image_t img = image_;
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return StartImageWrite(
      info.Env(), this, "Image.aioWrite", offset, len,
      [img, offset, data, len](rbd_completion_t c) { return rbd_aio_write(img, offset, len, data, c); }, {buf});
}

// Implements: rbd_aio_flush
Napi::Value Image::AioFlush(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return StartImageAio(info.Env(), this, "Image.aioFlush", [img](rbd_completion_t c) { return rbd_aio_flush(img, c); });
}

// Implements: rbd_aio_discard
Napi::Value Image::AioDiscard(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t len = ArgU64(info, 1, "length");
  rbd_image_t img = image_;
  return StartImageAio(info.Env(), this, "Image.aioDiscard",
                       [img, offset, len](rbd_completion_t c) { return rbd_aio_discard(img, offset, len, c); });
}

// Implements: rbd_aio_write_zeroes
Napi::Value Image::AioWriteZeroes(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t len = ArgU64(info, 1, "length");
  rbd_image_t img = image_;
  return StartImageAio(info.Env(), this, "Image.aioWriteZeroes", [img, offset, len](rbd_completion_t c) {
    return rbd_aio_write_zeroes(img, offset, len, c, 0, 0);
  });
}

// Implements: rbd_discard
Napi::Value Image::Discard(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t len = ArgU64(info, 1, "length");
  rbd_image_t img = image_;
  return RunAsyncCount(info.Env(), this, Ctx("Image.discard"),
                       [img, offset, len]() -> int64_t { return rbd_discard(img, offset, len); });
}

// Implements: rbd_write_zeroes
Napi::Value Image::WriteZeroes(const Napi::CallbackInfo& info) {
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t len = ArgU64(info, 1, "length");
  rbd_image_t img = image_;
  return RunAsyncCount(info.Env(), this, Ctx("Image.writeZeroes"),
                       [img, offset, len]() -> int64_t { return rbd_write_zeroes(img, offset, len, 0, 0); });
}

// Implements: rbd_flush
Napi::Value Image::Flush(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.flush"), [img] { return rbd_flush(img); });
}

// Implements: rbd_invalidate_cache
Napi::Value Image::InvalidateCache(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.invalidateCache"), [img] { return rbd_invalidate_cache(img); });
}

namespace {
struct Extent {
  uint64_t offset;
  uint64_t length;
  bool exists;
};
int CollectExtent(uint64_t off, size_t len, int exists, void* arg) {
  static_cast<std::vector<Extent>*>(arg)->push_back({off, len, exists != 0});
  return 0;
}
}  // namespace

// diffIterate(fromSnap|null, offset, length, includeParent, wholeObject)
//   -> [{ offset, length, exists }] in image order.
// Implements: rbd_diff_iterate2
Napi::Value Image::DiffIterate(const Napi::CallbackInfo& info) {
  std::string from = ArgOptString(info, 0, "fromSnapshot");
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t length = ArgU64(info, 2, "length");
  bool includeParent = ArgBool(info, 3);
  bool wholeObject = ArgBool(info, 4);
  rbd_image_t img = image_;
  return RunAsync<std::vector<Extent>>(
      info.Env(), this, SnapCtx("Image.diffIterate", from),
      [=](std::vector<Extent>& out) {
        return rbd_diff_iterate2(img, from.empty() ? nullptr : from.c_str(), offset, length,
                                 includeParent ? 1 : 0, wholeObject ? 1 : 0, &CollectExtent, &out);
      },
      [](Napi::Env env, std::vector<Extent>& extents) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, extents.size());
        for (size_t i = 0; i < extents.size(); ++i) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("offset", Napi::Number::New(env, static_cast<double>(extents[i].offset)));
          e.Set("length", Napi::Number::New(env, static_cast<double>(extents[i].length)));
          e.Set("exists", Napi::Boolean::New(env, extents[i].exists));
          arr.Set(static_cast<uint32_t>(i), e);
        }
        return arr;
      });
}

}  // namespace cephrbd
