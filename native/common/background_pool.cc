#include "common/background_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace cephrbd {
namespace {

int ConfiguredNice() {
  const char* v = std::getenv("CEPH_RBD_BACKGROUND_NICE");
  if (v == nullptr || *v == '\0') return 5;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0) return 5;
  return static_cast<int>(std::min(n, 19L));
}

class Pool {
 public:
  Pool() : nice_(ConfiguredNice()) {
    unsigned n = std::max(1u, std::min(std::thread::hardware_concurrency(), 16u));
    for (unsigned i = 0; i < n; ++i) {
      try {
        std::thread([this] { Loop(); }).detach();
        ++threads_;
      } catch (const std::system_error&) {
        break;  // the process's thread limit: run with the threads there are
      }
    }
  }

  void Run(std::function<void()> task) {
    if (threads_ == 0) {
      task();  // no thread could be started: correct, if slower, on the caller's
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  // setpriority(PRIO_PROCESS, tid) sets one thread's nice value on Linux.
  void LowerPriority() {
    if (nice_ == 0) return;
    pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    errno = 0;
    int current = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno != 0) return;
    setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(current + nice_, 19));  // failing leaves it as it was
  }

  void Loop() {
    pthread_setname_np(pthread_self(), "ceph-rbd-bg");  // for top -H, ps -L
    LowerPriority();
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  const int nice_;
  unsigned threads_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

// Process-wide and never destroyed: its threads may be waiting in it while
// the process exits.
Pool& ThePool() {
  static Pool* pool = new Pool();
  return *pool;
}

}  // namespace

void RunInBackground(std::function<void()> task) { ThePool().Run(std::move(task)); }

}  // namespace cephrbd
