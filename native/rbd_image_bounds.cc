#include "rbd_image_bounds.h"

#include <cerrno>

namespace cephrbd {

// Implements: rbd_update_watch
std::shared_ptr<ImageBounds> ImageBounds::Watch(rbd_image_t image) {
  auto bounds = std::make_shared<ImageBounds>();
  uint64_t handle = 0;
  if (rbd_update_watch(image, &handle, &ImageBounds::OnUpdate, bounds.get()) == 0) {
    bounds->watching_ = true;
    bounds->handle_ = handle;
    uint64_t size = 0;
    bounds->ReadSize(image, &size);  // a failure only leaves the size unknown
  }
  return bounds;
}

// Implements: rbd_update_unwatch
void ImageBounds::Unwatch(rbd_image_t image) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!watching_) return;
    watching_ = false;
  }
  rbd_update_unwatch(image, handle_);
}

void ImageBounds::OnUpdate(void* self) { static_cast<ImageBounds*>(self)->Invalidate(); }

void ImageBounds::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
}

// A header change while rbd_get_size runs leaves the size marked old.
// Implements: rbd_get_size
int ImageBounds::ReadSize(rbd_image_t image, uint64_t* size) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = generation_;
  }
  int rc = rbd_get_size(image, size);
  if (rc < 0) return rc;
  std::lock_guard<std::mutex> lock(mu_);
  if (watching_ && generation >= sizeGeneration_) {
    size_ = *size;
    sizeGeneration_ = generation;
  }
  return 0;
}

static bool Inside(uint64_t offset, uint64_t length, uint64_t size) { return offset <= size && length <= size - offset; }

bool ImageBounds::Fits(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  return watching_ && sizeGeneration_ == generation_ && Inside(offset, length, size_);
}

int ImageBounds::CheckWrite(rbd_image_t image, uint64_t offset, uint64_t length) {
  if (Fits(offset, length)) return 0;
  uint64_t size = 0;
  int rc = ReadSize(image, &size);
  if (rc < 0) return rc;
  return Inside(offset, length, size) ? 0 : -EINVAL;
}

}  // namespace cephrbd
