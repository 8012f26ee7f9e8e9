#include "common/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/args.h"
#include "common/worker.h"

namespace cephrbd {

namespace {

// Smaller requests are plain Buffers (Node's own pool serves them well).
constexpr size_t kMinPooled = 256 * 1024;
// Idle memory kept for reuse, all sizes together: a few chunks of a get().
constexpr size_t kMaxIdleBytes = 64 * 1024 * 1024;

class Pool {
 public:
  // An idle block of this size, or nullptr.
  void* TakeIdle(size_t mapped) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(mapped);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    idleBytes_ -= mapped;
    return p;
  }

  // An idle block, or a new one. `touch` writes to every page of a new
  // block: the first write to memory this VM's guest never used costs far
  // more than the mapping (measured: 128 MiB mapped and populated in
  // ~30 ms, then ~240 ms for the first write to each page, ~7 ms for the
  // next pass), so a caller off the JS thread pays it there.
  void* Take(size_t mapped, bool touch) {
    if (void* idle = TakeIdle(mapped)) return idle;
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Not inherited by fork() (see buffer_pool.h).
    madvise(p, mapped, MADV_DONTFORK);
    if (touch) {
      static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      for (size_t i = 0; i < mapped; i += page) static_cast<volatile char*>(p)[i] = 0;
    }
    return p;
  }

  void Give(void* p, size_t mapped) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idleBytes_ + mapped <= kMaxIdleBytes) {
        idle_[mapped].push_back(p);
        idleBytes_ += mapped;
        return;
      }
    }
    munmap(p, mapped);
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> idle_;
  size_t idleBytes_ = 0;
};

// Never destroyed: Buffers may be collected during process exit.
Pool& ThePool() {
  static Pool* pool = new Pool();
  return *pool;
}

size_t PageRounded(size_t n) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// The finalizer of a pooled Buffer (JS thread of the environment that collected it).
// V8 does not count external memory on its own: without the adjustment it
// would not collect the Buffers (and return their blocks) any sooner than
// its heap alone asks for.
void ReturnBlock(napi_env env, void* data, void* hint) {
  size_t mapped = reinterpret_cast<uintptr_t>(hint);
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(mapped), &ignored);
  ThePool().Give(data, mapped);
}

// A Buffer over `block` (of `mapped` bytes) that gives it back when collected;
// a plain Buffer (and the block back to the pool) where external buffers
// are refused.
Napi::Value WrapBlock(Napi::Env env, void* block, size_t size, size_t mapped) {
  napi_value out = nullptr;
  napi_status st = napi_create_external_buffer(env, size, block, ReturnBlock,
                                               reinterpret_cast<void*>(static_cast<uintptr_t>(mapped)), &out);
  if (st != napi_ok) {
    // External buffers not allowed here (napi_no_external_buffers_allowed), or a pending exception.
    ThePool().Give(block, mapped);
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    return Napi::Buffer<uint8_t>::New(env, size);
  }
  int64_t ignored = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(mapped), &ignored);
  return Napi::Value(env, out);
}

bool Pooled(uint64_t size) { return size >= kMinPooled && size <= (uint64_t{1} << 32); }

// allocPooledBuffer(size) -> Buffer of `size` uninitialised bytes.
Napi::Value AllocPooledBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = ArgU64(info, 0, "size");
  if (!Pooled(size)) return Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  size_t mapped = PageRounded(static_cast<size_t>(size));
  void* block = ThePool().Take(mapped, false);
  if (block == nullptr) return Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  return WrapBlock(env, block, static_cast<size_t>(size), mapped);
}

// allocPooledBufferAsync(size) -> Promise<Buffer>: an idle block at once; a
// new one is mapped and written to on a worker thread, not the JS thread.
Napi::Value AllocPooledBufferAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = ArgU64(info, 0, "size");
  auto now = [&env](Napi::Value v) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(v);
    return deferred.Promise();
  };
  if (!Pooled(size)) return now(Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size)));
  size_t mapped = PageRounded(static_cast<size_t>(size));
  if (void* idle = ThePool().TakeIdle(mapped)) return now(WrapBlock(env, idle, static_cast<size_t>(size), mapped));
  ErrorContext ctx;
  ctx.op = "allocPooledBuffer";
  ctx.family = "rados";
  return RunAsync<void*>(
      env, nullptr, std::move(ctx),
      [mapped](void*& block) {
        block = ThePool().Take(mapped, true);
        return block == nullptr ? -ENOMEM : 0;
      },
      [size, mapped](Napi::Env env, void*& block) { return WrapBlock(env, block, static_cast<size_t>(size), mapped); });
}

}  // namespace

void InitBufferPool(Napi::Env env, Napi::Object exports) {
  exports.Set("allocPooledBuffer", Napi::Function::New(env, AllocPooledBuffer, "allocPooledBuffer"));
  exports.Set("allocPooledBufferAsync", Napi::Function::New(env, AllocPooledBufferAsync, "allocPooledBufferAsync"));
}

}  // namespace cephrbd
