#include "common/submit_queue.h"

#include "common/addon_data.h"
#include "common/guard.h"

namespace cephrbd {

// One worker-thread pass over the queue. Nothing settles here: each queued
// submission settles its own operation (through its completion, or the aio
// dispatcher when the submission failed).
class SubmitQueue::Drain final : public Napi::AsyncWorker {
 public:
  Drain(Napi::Env env, std::shared_ptr<SubmitQueue> queue)
      : Napi::AsyncWorker(env, "ceph-rbd:submit"), queue_(std::move(queue)), gate_(AddonData::Get(env)->gate) {}

  void Execute() override {
    if (!gate_->Begin()) return;  // exit began: the queued operations are dropped with the process
    queue_->RunAll();
    gate_->End();
  }
  void OnWorkComplete(Napi::Env, napi_status) override { delete this; }

 private:
  std::shared_ptr<SubmitQueue> queue_;
  std::shared_ptr<ExecGate> gate_;
};

bool SubmitQueue::Busy() {
  std::lock_guard<std::mutex> lock(mu_);
  return draining_;
}

void SubmitQueue::Defer(Napi::Env env, std::function<void()> submit) {
  bool start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(submit));
    start = !draining_;
    draining_ = true;
  }
  if (!start) return;
  try {
    (new Drain(env, shared_from_this()))->Queue();
  } catch (...) {
    RunAll();  // no worker to be had (the environment is going away): submit here
  }
}

void SubmitQueue::RunAll() {
  for (;;) {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        draining_ = false;  // from here on the JS thread submits directly again
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    next();
  }
}

}  // namespace cephrbd
