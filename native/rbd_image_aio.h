// Starting aio operations on an open image, shared by the plain aio calls
// (rbd_image_io.cc) and the extended ones (rbd_image_ext.cc).
#pragma once
#include <napi.h>
#include <rbd/librbd.h>

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "common/aio.h"
#include "rbd_image.h"

namespace cephrbd {

// Starts one aio operation on `image`: `submit(completion)` queues it, in
// call order behind the image's deferred submissions. `pins` stay
// referenced until it settles; `resolveWith` >= 0 replaces the completion's
// return value (writes complete with 0); `offThread` submits it from a
// worker thread.
template <typename Submit>
Napi::Value StartImageAio(Napi::Env env, Image* image, const char* op, Submit submit,
                          std::initializer_list<Napi::Object> pins = {}, int64_t resolveWith = -1,
                          bool offThread = false) {
  ErrorContext ctx = image->Ctx(op);
  if (!image->Enter()) return RejectClosed(env, ctx, image);
  auto* aio = new AioOp(env, image, std::move(ctx));
  for (const Napi::Object& pin : pins) aio->Pin(pin);
  if (resolveWith >= 0) aio->ResolveWith(resolveWith);
  return aio->Start(env, std::move(submit), image->submitQueue(), offThread);
}

// Wraps the submit of a data write to [offset, offset + length) so that a
// write past the end of the image is refused (EINVAL). librbd would cut it
// at the end and still complete it with 0, and the promise would report
// bytes that were never written. Inside the size as last read it costs no
// librbd call; otherwise `*offThread` is set: the size must be read again,
// which may wait on the OSDs, so a worker thread submits it.
template <typename Submit>
auto InsideImage(Image* image, uint64_t offset, uint64_t length, Submit submit, bool* offThread) {
  ImageBounds* bounds = image->bounds().get();  // the op keeps the image entered, so the bounds alive
  bool checked = bounds->Fits(offset, length);
  *offThread = !checked;
  rbd_image_t img = image->image();
  return [img, bounds, checked, offset, length, submit = std::move(submit)](rbd_completion_t c) -> int {
    int rc = checked ? 0 : bounds->CheckWrite(img, offset, length);
    return rc < 0 ? rc : static_cast<int>(submit(c));
  };
}

// An aio data write of [offset, offset + length), refused past the end;
// resolves `length` (the bytes written).
template <typename Submit>
Napi::Value StartImageWrite(Napi::Env env, Image* image, const char* op, uint64_t offset, uint64_t length,
                            Submit submit, std::initializer_list<Napi::Object> pins) {
  bool offThread = false;
  auto bounded = InsideImage(image, offset, length, std::move(submit), &offThread);
  return StartImageAio(env, image, op, std::move(bounded), pins, static_cast<int64_t>(length), offThread);
}

}  // namespace cephrbd
