// Submissions of one image's aio operations that must leave the JS thread
// while keeping their order. An aio write whose "inside the image" check
// needs the image size read again (rbd_image_bounds.h: that read may wait
// for a header refresh on the OSDs) is handed to a libuv worker thread
// instead of blocking the event loop. Every aio operation of the image
// started after it (reads, writes, flushes, ...) queues behind it until the
// queue drains, so librbd still receives them in the order JavaScript
// issued them (a flush covers the writes started before it).
#pragma once
#include <napi.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace cephrbd {

class SubmitQueue : public std::enable_shared_from_this<SubmitQueue> {
 public:
  // JS thread: whether operations are queued or being submitted.
  bool Busy();
  // JS thread: runs `submit` on a worker thread after everything queued
  // before it. It must not throw. Once process exit began it never runs.
  void Defer(Napi::Env env, std::function<void()> submit);

 private:
  class Drain;
  // Worker thread: submits until the queue is empty.
  void RunAll();

  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  bool draining_ = false;
};

}  // namespace cephrbd
