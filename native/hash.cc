// Hasher: incremental digests on the background threads, one serial lane
// per algorithm (see hash.h).
//
// All queue bookkeeping runs on the JS thread; a worker thread touches only
// its lane's EVP_MD_CTX and the pinned bytes of the piece it hashes. Only
// one work item per lane is ever in flight, so a context is never used by
// two threads at once. The lanes live in a shared State that every queued
// work item also owns, so a Hasher collected (or an environment torn down)
// while work is running never frees a context under a worker thread.
#include "hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/aio.h"
#include "common/background_pool.h"
#include "common/errors.h"
#include "common/guard.h"
#include "common/pin.h"

namespace cephrbd {
namespace {

// One update(): settled once every lane has hashed it; the Buffer stays
// referenced (pinned) until then.
struct Piece {
  Piece(Napi::Env env, Napi::Object buffer, const unsigned char* bytes, size_t length, size_t lanes)
      : deferred(Napi::Promise::Deferred::New(env)),
        pin(env, buffer),
        data(bytes),
        len(length),
        remaining(lanes) {}
  Napi::Promise::Deferred deferred;
  Pin pin;  // the Buffer and its memory, until every lane has hashed it
  const unsigned char* data;
  size_t len;
  size_t remaining;
  std::string failed;  // the first lane that failed, if any
};

// One digest(): one hex string per lane, in the order of the algorithms.
struct Final {
  Final(Napi::Env env, size_t lanes) : deferred(Napi::Promise::Deferred::New(env)), hex(lanes), remaining(lanes) {}
  Napi::Promise::Deferred deferred;
  std::vector<std::string> hex;
  size_t remaining;
  std::string failed;
};

struct Job {
  std::shared_ptr<Piece> piece;  // either a piece to hash ...
  std::shared_ptr<Final> final;  // ... or the final digest
};

struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

struct Lane {
  std::string algorithm;
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx;
  std::deque<Job> queue;  // JS thread only
  bool busy = false;      // a work item of this lane is queued or running
};

struct State : std::enable_shared_from_this<State> {
  std::vector<Lane> lanes;
  bool finished = false;  // digest() was called
  bool broken = false;    // an OpenSSL call failed: later calls reject

  void Push(Napi::Env env, const Job& job) {
    for (size_t i = 0; i < lanes.size(); ++i) {
      lanes[i].queue.push_back(job);
      Pump(env, i);
    }
  }
  void Pump(Napi::Env env, size_t lane);
  void Done(Napi::Env env, size_t lane, const Job& job, bool ok, std::string hex);
};

std::string ToHex(const unsigned char* md, unsigned int n) {
  static const char digits[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(n) * 2, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  return out;
}

// A hash failure is not a Ceph errno: a plain Error with a code of our own.
Napi::Value HashError(Napi::Env env, const std::string& op, const std::string& algorithm) {
  Napi::Error error = Napi::Error::New(env, op + ": OpenSSL failed to hash with " + algorithm);
  error.Value().Set("code", "ERR_CEPH_HASH");
  error.Value().Set("op", op);
  return error.Value();
}

// One step of one lane on a background thread (common/background_pool.h,
// below the JS thread's priority): EVP_DigestUpdate of one piece, or
// EVP_DigestFinal_ex. Execute() touches no JS values; the environment's
// dispatcher hands the step back to the JS thread, which keeps the event
// loop alive meanwhile. In an environment torn down meanwhile the step is
// dropped, with the State it owns.
class LaneStep final : public JsDelivery {
 public:
  LaneStep(Napi::Env env, std::shared_ptr<State> state, size_t lane, Job job)
      : dispatcher_(DispatcherFor(env)),
        state_(std::move(state)),
        lane_(lane),
        job_(std::move(job)),
        ctx_(state_->lanes[lane_].ctx.get()) {}

  void Start(Napi::Env env) {
    dispatcher_->Begin(env);
    RunInBackground([this] {
      Execute();
      dispatcher_->Post(this);
    });
  }

  // Settles on the JS thread; nothing may escape (common/guard.h).
  void Deliver(Napi::Env env) override {
    NoThrow([&] {
      Napi::HandleScope scope(env);
      state_->Done(env, lane_, job_, ok_, std::move(hex_));
    });
    NoThrow([&] {
      Napi::HandleScope scope(env);
      job_ = Job();
    });
    NoThrow([&] { dispatcher_->End(env); });
    delete this;
  }

 private:
  void Execute() {
    // Nothing may escape a background thread (it would end the process): a
    // failure here (bad_alloc from the hex string) fails this lane instead.
    try {
      if (job_.piece) {
        ok_ = job_.piece->len == 0 || EVP_DigestUpdate(ctx_, job_.piece->data, job_.piece->len) == 1;
      } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        ok_ = EVP_DigestFinal_ex(ctx_, md, &n) == 1;
        if (ok_) hex_ = ToHex(md, n);
      }
    } catch (...) {
      ok_ = false;
    }
  }

  AioDispatcher* dispatcher_;
  std::shared_ptr<State> state_;
  size_t lane_;
  Job job_;
  EVP_MD_CTX* ctx_;
  bool ok_ = false;
  std::string hex_;
};

void State::Pump(Napi::Env env, size_t lane) {
  Lane& l = lanes[lane];
  if (l.busy || l.queue.empty()) return;
  l.busy = true;
  Job job = l.queue.front();
  l.queue.pop_front();
  (new LaneStep(env, shared_from_this(), lane, std::move(job)))->Start(env);
}

void State::Done(Napi::Env env, size_t lane, const Job& job, bool ok, std::string hex) {
  lanes[lane].busy = false;
  if (!ok) broken = true;
  if (job.piece) {
    Piece& p = *job.piece;
    if (!ok && p.failed.empty()) p.failed = lanes[lane].algorithm;
    if (--p.remaining == 0) {
      p.pin.Reset();  // every lane has consumed the bytes: release the Buffer
      if (p.failed.empty()) {
        p.deferred.Resolve(env.Undefined());
      } else {
        p.deferred.Reject(HashError(env, "Hasher.update", p.failed));
      }
    }
  } else {
    Final& f = *job.final;
    if (!ok && f.failed.empty()) f.failed = lanes[lane].algorithm;
    f.hex[lane] = std::move(hex);
    if (--f.remaining == 0) {
      if (f.failed.empty()) {
        Napi::Array out = Napi::Array::New(env, f.hex.size());
        for (size_t i = 0; i < f.hex.size(); ++i) out.Set(static_cast<uint32_t>(i), f.hex[i]);
        f.deferred.Resolve(out);
      } else {
        f.deferred.Reject(HashError(env, "Hasher.digest", f.failed));
      }
    }
  }
  Pump(env, lane);
}

}  // namespace

class Hasher : public Napi::ObjectWrap<Hasher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Hasher",
                       {InstanceMethod<&Hasher::Update>("update"), InstanceMethod<&Hasher::Digest>("digest"),
                        InstanceAccessor<&Hasher::GetAlgorithms>("algorithms"),
                        InstanceAccessor<&Hasher::GetPending>("pending")});
  }

  // new Hasher(algorithms: string[]): a TypeError for an unknown algorithm.
  explicit Hasher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Hasher>(info), state_(std::make_shared<State>()) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0) {
      throw Napi::TypeError::New(env, "Expected a non-empty array of algorithm names for algorithms");
    }
    Napi::Array names = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      Napi::Value v = names.Get(i);
      if (!v.IsString()) throw Napi::TypeError::New(env, "Expected a string for algorithms[" + std::to_string(i) + "]");
      std::string name = v.As<Napi::String>().Utf8Value();
      const EVP_MD* md = EVP_get_digestbyname(name.c_str());
      if (md == nullptr) {
        Napi::TypeError error = Napi::TypeError::New(env, "Invalid digest: " + name);
        error.Set("code", "ERR_CRYPTO_INVALID_DIGEST");
        throw error;
      }
      Lane lane;
      lane.algorithm = name;
      lane.ctx.reset(EVP_MD_CTX_new());
      if (!lane.ctx || EVP_DigestInit_ex(lane.ctx.get(), md, nullptr) != 1) {
        throw Napi::Error::New(env, "Hasher: OpenSSL could not initialise " + name);
      }
      state_->lanes.push_back(std::move(lane));
    }
  }

 private:
  // update(buffer) -> Promise<void>: resolves once every algorithm hashed it.
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "Expected a Buffer for data");
    if (state_->finished || state_->broken) return Rejected(env, "Hasher.update");
    Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
    auto piece = std::make_shared<Piece>(env, buf, buf.Data(), buf.Length(), state_->lanes.size());
    Napi::Promise promise = piece->deferred.Promise();
    state_->Push(env, Job{piece, nullptr});
    return promise;
  }

  // digest() -> Promise<string[]>: after every earlier update; once only.
  Napi::Value Digest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_->finished || state_->broken) return Rejected(env, "Hasher.digest");
    state_->finished = true;
    auto final = std::make_shared<Final>(env, state_->lanes.size());
    Napi::Promise promise = final->deferred.Promise();
    state_->Push(env, Job{nullptr, final});
    return promise;
  }

  Napi::Value GetAlgorithms(const Napi::CallbackInfo& info) {
    Napi::Array out = Napi::Array::New(info.Env(), state_->lanes.size());
    for (size_t i = 0; i < state_->lanes.size(); ++i) out.Set(static_cast<uint32_t>(i), state_->lanes[i].algorithm);
    return out;
  }

  // Pieces not yet hashed by every lane (queued or running), for tests.
  Napi::Value GetPending(const Napi::CallbackInfo& info) {
    size_t most = 0;
    for (const Lane& l : state_->lanes) most = std::max(most, l.queue.size() + (l.busy ? 1 : 0));
    return Napi::Number::New(info.Env(), static_cast<double>(most));
  }

  Napi::Value Rejected(Napi::Env env, const std::string& op) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeClosedError(env, op, state_->broken ? "hasher (after an OpenSSL failure)" : "hasher"));
    return deferred.Promise();
  }

  std::shared_ptr<State> state_;
};

// createHasher(algorithms): the constructor, called for the caller.
static Napi::Value CreateHasher(const Napi::CallbackInfo& info) {
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  return ctor->New({info[0]});
}

void InitHash(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Hasher::Define(env);
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(cls));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("Hasher", cls);
  exports.Set("createHasher", Napi::Function::New(env, CreateHasher, "createHasher", ctor));
}

}  // namespace cephrbd
