// Per-environment state of the addon (one per main thread / worker thread).
#pragma once
#include <napi.h>

#include <memory>
#include <set>

#include "common/gate.h"

namespace cephrbd {

class Handle;
class AioDispatcher;

struct AddonData {
  Napi::FunctionReference errorFactory;  // lib/errors.ts: plain Error -> typed class
  Napi::FunctionReference radosCtor;
  Napi::FunctionReference ioctxCtor;
  Napi::FunctionReference imageCtor;
  AioDispatcher* aio = nullptr;
  std::set<Handle*> handles;  // every native handle not yet closed, for the cleanup hook
  bool tearingDown = false;
  // Blocking calls running on worker threads (process exit waits for them).
  std::shared_ptr<ExecGate> gate = std::make_shared<ExecGate>();

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace cephrbd
