#include "common/handle.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/addon_data.h"
#include "common/guard.h"

namespace cephrbd {

namespace {

// Runs a handle's native release on a libuv worker thread, then finishes the
// close on the JS thread. The wrapper object is pinned until then.
class ReleaseWorker final : public Napi::AsyncWorker {
 public:
  ReleaseWorker(Napi::Env env, Napi::Object owner, std::shared_ptr<Handle::PendingRelease> release,
                Handle::Done done)
      : Napi::AsyncWorker(env, "ceph-rbd:close"),
        owner_(Napi::Persistent(owner)),
        gate_(AddonData::Get(env)->gate),
        release_(std::move(release)),
        done_(std::move(done)) {}

  // An exception here would skip the completion and leave the close pending
  // forever. Once process exit began, the exit path runs the release itself.
  void Execute() override {
    if (!gate_->Begin()) return;
    NoThrow([this] { release_->Run(); });
    gate_->End();
  }

  // From libuv: nothing may escape (common/guard.h). Cancelled (teardown
  // before it ran), the release runs here; the close then finishes.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status == napi_cancelled) NoThrow([this] { release_->Run(); });
    NoThrow([&] {
      Napi::HandleScope scope(env);
      done_(env);
    });
    NoThrow([&] { owner_.Reset(); });
    delete this;
  }

 private:
  Napi::ObjectReference owner_;
  std::shared_ptr<ExecGate> gate_;
  std::shared_ptr<Handle::PendingRelease> release_;
  Handle::Done done_;
};

class Reaper {
 public:
  void Push(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      std::thread([this] { Run(); }).detach();
      started_ = true;
    }
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }

 private:
  [[noreturn]] void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      if (task) task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool started_ = false;
};

}  // namespace

void ReapLater(std::function<void()> release) {
  static Reaper* reaper = new Reaper();  // never destroyed: outlives every env
  reaper->Push(std::move(release));
}

Handle::Handle(Napi::Env env, const char* kind) : env_(env), kind_(kind) {
  AddonData::Get(env)->handles.insert(this);
}

Handle::~Handle() {
  if (AddonData* data = AddonData::Get(env_)) data->handles.erase(this);
}

bool Handle::Enter() {
  if (state_ != State::Open) return false;
  ++inflight_;
  return true;
}

void Handle::Leave(Napi::Env env) {
  --inflight_;
  MaybeRelease(env);
}

void Handle::AttachTo(Handle* parent) {
  parent_ = parent;
  parent->children_.insert(this);
}

void Handle::Unlink() {
  if (parent_ == nullptr) return;
  parent_->children_.erase(this);
  parent_ = nullptr;
}

void Handle::RequestClose(Napi::Env env, Done done) {
  if (state_ == State::Closed) {
    done(env);
    return;
  }
  closeWaiters_.push_back(std::move(done));
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  MaybeRelease(env);
}

void Handle::MaybeRelease(Napi::Env env) {
  if (state_ != State::Closing || releasing_) return;
  if (!children_.empty()) {
    // Copy: a closing child unlinks itself from children_.
    std::set<Handle*> children = children_;
    for (Handle* child : children) {
      if (child->state_ == State::Open) child->RequestClose(env, [](Napi::Env) {});
    }
    return;  // each child's Finish() calls MaybeRelease() on us again
  }
  if (inflight_ > 0) return;  // the last Leave() calls MaybeRelease() again
  releasing_ = true;
  pending_ = std::make_shared<PendingRelease>();
  pending_->fn = TakeRelease();
  ReleaseWorker* worker = nullptr;
  bool queued = NoThrow([&] {
    worker = new ReleaseWorker(env, JsObject(), pending_, [this](Napi::Env e) { Finish(e); });
    worker->Queue();
  });
  if (queued) return;
  // No worker could be queued (the environment is shutting down): release
  // here, there is no JS thread left to keep responsive.
  delete worker;
  NoThrow([&] { pending_->Run(); });
  NoThrow([&] { Finish(env); });
}

void Handle::Finish(Napi::Env env) {
  state_ = State::Closed;
  AddonData::Get(env)->handles.erase(this);
  Handle* parent = parent_;
  Unlink();
  std::vector<Done> waiters;
  waiters.swap(closeWaiters_);
  for (Done& waiter : waiters) NoThrow([&] { waiter(env); });
  OnClosed();
  if (parent != nullptr) parent->MaybeRelease(env);
}

void Handle::ReleaseForTeardown() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  if (pending_) {
    pending_->Run();  // a close worker that has not started: it will skip it
  } else if (auto release = TakeRelease()) {
    release();
  }
  Unlink();
}

void Handle::ForgetOnCollect() {
  Unlink();
  AddonData* data = AddonData::Get(env_);
  if (data != nullptr) data->handles.erase(this);
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  auto release = TakeRelease();
  if (!release) return;
  if (data != nullptr && data->tearingDown) {
    release();  // environment exit: nothing left to block
  } else {
    ReapLater(std::move(release));
  }
}

void ReleaseAllHandles(Napi::Env env, int waitMs) {
  AddonData* data = AddonData::Get(env);
  if (data == nullptr) return;
  data->tearingDown = true;
  // No new call starts, progress-reporting ones are cancelled; wait a little
  // for those already running (they use the handles released below).
  bool drained = data->gate->CloseAndWait(waitMs);
  // Children before parents: repeat until nothing more can be released. If
  // a call is still running, its handle (and so its parents) is left alone
  // rather than freed under it: process exit reclaims it.
  bool progress = true;
  while (progress) {
    progress = false;
    std::set<Handle*> pending = data->handles;
    for (Handle* h : pending) {
      if (h->state() == Handle::State::Closed || h->HasChildren()) continue;
      if (!drained && h->BusyOnWorker()) continue;
      NoThrow([h] { h->ReleaseForTeardown(); });
      data->handles.erase(h);
      progress = true;
    }
  }
}

}  // namespace cephrbd
