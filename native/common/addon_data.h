// Per-environment state of the addon (one per main thread / worker thread).
#pragma once
#include <napi.h>

#include <set>

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

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace cephrbd
