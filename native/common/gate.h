// Counts the blocking calls running on worker threads for one environment,
// so that process exit can wait (briefly) for them before it releases the
// handles they use, and so that no new one starts once exit began.
//
// Worker thread:  if (!gate->Begin()) return -ESHUTDOWN; ...; gate->End();
// Exit path:      bool drained = gate->CloseAndWait(ms);
//
// Begin() counts first and checks `closed_` second, CloseAndWait() sets
// `closed_` first and reads the count second (both sequentially consistent):
// either the call sees the gate closed, or the exit path sees it running.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cephrbd {

class ExecGate {
 public:
  bool Begin() {
    running_.fetch_add(1);
    if (!closed_.load()) return true;
    End();
    return false;
  }
  // Counts a call that must run even after exit began (a close under way).
  void BeginAlways() { running_.fetch_add(1); }
  void End() {
    if (running_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  bool Closed() const { return closed_.load(std::memory_order_relaxed); }
  // Closes the gate; true when nothing is running any more within `ms`.
  bool CloseAndWait(int ms) {
    closed_.store(true);
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return running_.load() == 0; });
  }

 private:
  std::atomic<int> running_{0};
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace cephrbd
