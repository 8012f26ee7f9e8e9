// The size of an open image as last read, so that the "is this write inside
// the image" check of aioWrite does not call rbd_get_size on the JS thread
// for every write. rbd_get_size first refreshes the image header whenever
// librbd marked it changed (a resize, a metadata update, a new exclusive
// lock owner), and that refresh waits on the OSDs: in 8 concurrent uploads
// on a busy cluster it blocked the JS thread for up to 183 ms at a time.
//
// An update watch (rbd_update_watch: every header change, by this client or
// another) marks the remembered size old. A write that fits the remembered
// size while it is current needs no librbd call; any other write reads the
// size again, off the JS thread (only after a header change, or for a write
// past the size as last read).
#pragma once
#include <rbd/librbd.h>

#include <cstdint>
#include <memory>
#include <mutex>

namespace cephrbd {

class ImageBounds {
 public:
  // Worker thread, right after rbd_open of a writable image: watches the
  // header and reads the size once. Without a watch (it failed, or the image
  // is read-only) every check reads the size, as rbd_get_size alone would.
  static std::shared_ptr<ImageBounds> Watch(rbd_image_t image);
  static std::shared_ptr<ImageBounds> Unwatched() { return std::make_shared<ImageBounds>(); }

  // Before rbd_close, on the releasing thread: no callback after it returns.
  void Unwatch(rbd_image_t image);

  // Whether [offset, offset + length) lies inside the size as last read,
  // and that size is current. Never calls librbd. Any thread.
  bool Fits(uint64_t offset, uint64_t length);

  // 0 when [offset, offset + length) lies inside the image, -EINVAL when it
  // does not, or rbd_get_size's error. Reads the size unless Fits(). Any
  // thread, but it may block: aioWrite calls it off the JS thread
  // (common/submit_queue.h) when Fits() is false.
  int CheckWrite(rbd_image_t image, uint64_t offset, uint64_t length);

  // After an operation of this handle that can change the size it sees
  // (resize, rollback, snapshot set), whether or not the watch reports it.
  void Invalidate();

 private:
  static void OnUpdate(void* self);
  int ReadSize(rbd_image_t image, uint64_t* size);

  std::mutex mu_;
  uint64_t generation_ = 1;   // bumped by every header change
  uint64_t sizeGeneration_ = 0;  // the generation size_ was read in
  uint64_t size_ = 0;
  bool watching_ = false;  // set before the bounds are shared; cleared by Unwatch
  uint64_t handle_ = 0;
};

}  // namespace cephrbd
