#include "common/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/args.h"

namespace cephrbd {

namespace {

// Smaller requests are plain Buffers (Node's own pool serves them well).
constexpr size_t kMinPooled = 256 * 1024;
// Idle memory kept for reuse, all sizes together: a few chunks of a get().
constexpr size_t kMaxIdleBytes = 64 * 1024 * 1024;

class Pool {
 public:
  void* Take(size_t mapped) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(mapped);
      if (it != idle_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        idleBytes_ -= mapped;
        return p;
      }
    }
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Not inherited by fork() (see buffer_pool.h).
    madvise(p, mapped, MADV_DONTFORK);
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

// allocReadBuffer(size) -> Buffer of `size` uninitialised bytes.
Napi::Value AllocReadBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = ArgU64(info, 0, "size");
  if (size < kMinPooled || size > (uint64_t{1} << 32)) return Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  size_t mapped = PageRounded(static_cast<size_t>(size));
  void* block = ThePool().Take(mapped);
  if (block == nullptr) return Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  napi_value out = nullptr;
  napi_status st = napi_create_external_buffer(env, static_cast<size_t>(size), block, ReturnBlock,
                                               reinterpret_cast<void*>(static_cast<uintptr_t>(mapped)), &out);
  if (st != napi_ok) {
    // External buffers not allowed here (napi_no_external_buffers_allowed), or a pending exception.
    ThePool().Give(block, mapped);
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    return Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(size));
  }
  int64_t ignored = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(mapped), &ignored);
  return Napi::Value(env, out);
}

}  // namespace

void InitBufferPool(Napi::Env env, Napi::Object exports) {
  exports.Set("allocReadBuffer", Napi::Function::New(env, AllocReadBuffer, "allocReadBuffer"));
}

}  // namespace cephrbd
