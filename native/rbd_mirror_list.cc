// RBD mirroring, pool-wide views: the count of images per replay state, and
// paged listings (by image id, `startAfter` exclusive) of global statuses,
// mirror infos and the rbd-mirror instance replaying each image.
#include <cerrno>
#include <utility>
#include <vector>

#include "common/args.h"
#include "common/pairs.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_ext.h"
#include "rbd_mirror.h"

namespace cephrbd {

namespace {

struct PageArgs {
  IoCtx* ioctx;
  rados_ioctx_t io;
  ErrorContext ctx;
  std::string startAfter;
  size_t max;
};

// (ioctx, startAfter, max, ...): max is 1..4096 (lib/rbd-mirror.ts checks it).
PageArgs ReadPage(const Napi::CallbackInfo& info, const char* op) {
  IoCtx* ioctx = IoCtx::FromValue(info.Env(), info[0]);
  std::string start = ArgOptString(info, 1, "startAfter");
  uint64_t max = ArgU64(info, 2, "max");
  if (max < 1 || max > 4096) throw Napi::RangeError::New(info.Env(), "max must be from 1 to 4096");
  return {ioctx, ioctx->io(), ioctx->Ctx(op, "rbd"), start, static_cast<size_t>(max)};
}

struct IdStatus {
  std::string id;
  MirrorGlobalStatus status;
};

struct IdInfo {
  std::string id;
  rbd_mirror_image_mode_t mode;
  MirrorInfo info;
};

using IdPairs = std::vector<std::pair<std::string, std::string>>;

}  // namespace

// imageStatusSummary(ioctx) -> [[state, count]]
// Implements: rbd_mirror_image_status_summary
static Napi::Value ImageStatusSummary(const Napi::CallbackInfo& info) {
  IoCtx* ioctx = IoCtx::FromValue(info.Env(), info[0]);
  using Counts = std::vector<std::pair<rbd_mirror_image_status_state_t, int>>;
  return RunAsync<Counts>(
      info.Env(), ioctx, ioctx->Ctx("Mirror.imageStatusSummary", "rbd"),
      [io = ioctx->io()](Counts& out) {
        std::vector<rbd_mirror_image_status_state_t> states;
        std::vector<int> counts;
        size_t used = 0;
        int rc = GrowAndRetry(states, 16, [&](rbd_mirror_image_status_state_t* data, size_t* len) {
          counts.resize(*len);
          used = *len;
          return rbd_mirror_image_status_summary(io, data, counts.data(), &used);
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < used && i < states.size(); ++i) out.emplace_back(states[i], counts[i]);
        return 0;
      },
      [](Napi::Env env, Counts& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Array kv = Napi::Array::New(env, 2);
          kv.Set(0u, MirrorStatusStateName(list[i].first));
          kv.Set(1u, Napi::Number::New(env, list[i].second));
          arr.Set(static_cast<uint32_t>(i), kv);
        }
        return arr;
      });
}

// imageGlobalStatusList(ioctx, startAfter, max) -> [{ id, status }]
// Implements: rbd_mirror_image_global_status_list, rbd_mirror_image_global_status_list_cleanup
static Napi::Value ImageGlobalStatusList(const Napi::CallbackInfo& info) {
  PageArgs p = ReadPage(info, "Mirror.listImageStatus");
  return RunAsync<std::vector<IdStatus>>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io, start = p.startAfter, max = p.max](std::vector<IdStatus>& out) {
        std::vector<char*> ids(max, nullptr);
        std::vector<rbd_mirror_image_global_status_t> items(max);
        size_t len = 0;
        int rc = rbd_mirror_image_global_status_list(io, start.c_str(), max, ids.data(), items.data(), &len);
        if (rc < 0) return rc;
        for (size_t i = 0; i < len; ++i) out.push_back({ids[i] != nullptr ? ids[i] : "", CopyGlobalStatus(items[i])});
        rbd_mirror_image_global_status_list_cleanup(ids.data(), items.data(), len);
        return 0;
      },
      [](Napi::Env env, std::vector<IdStatus>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("id", list[i].id);
          o.Set("status", GlobalStatusToJs(env, list[i].status));
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// imageInfoList(ioctx, startAfter, max, modeFilter?: 0 journal | 1 snapshot)
//   -> [{ id, mode, info }]
// Implements: rbd_mirror_image_info_list, rbd_mirror_image_info_list_cleanup
static Napi::Value ImageInfoList(const Napi::CallbackInfo& info) {
  PageArgs p = ReadPage(info, "Mirror.listImageInfo");
  bool filtered = !info[3].IsUndefined() && !info[3].IsNull();
  uint64_t filter = filtered ? ArgU64(info, 3, "modeFilter") : 0;
  if (filter > RBD_MIRROR_IMAGE_MODE_SNAPSHOT) throw Napi::RangeError::New(info.Env(), "modeFilter is out of range");
  return RunAsync<std::vector<IdInfo>>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io, start = p.startAfter, max = p.max, filtered, filter](std::vector<IdInfo>& out) {
        std::vector<char*> ids(max, nullptr);
        std::vector<rbd_mirror_image_mode_t> modes(max);
        std::vector<rbd_mirror_image_info_t> infos(max);
        auto mode = static_cast<rbd_mirror_image_mode_t>(filter);
        size_t len = 0;
        int rc = rbd_mirror_image_info_list(io, filtered ? &mode : nullptr, start.c_str(), max, ids.data(), modes.data(),
                                            infos.data(), &len);
        if (rc < 0) return rc;
        for (size_t i = 0; i < len; ++i) out.push_back({ids[i] != nullptr ? ids[i] : "", modes[i], CopyMirrorInfo(infos[i])});
        rbd_mirror_image_info_list_cleanup(ids.data(), infos.data(), len);
        return 0;
      },
      [](Napi::Env env, std::vector<IdInfo>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("id", list[i].id);
          o.Set("mode", MirrorImageModeName(list[i].mode));
          o.Set("info", MirrorInfoToJs(env, list[i].info));
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// imageInstanceIdList(ioctx, startAfter, max) -> [[imageId, instanceId]]
// (images some rbd-mirror daemon of this site is replaying)
// Implements: rbd_mirror_image_instance_id_list, rbd_mirror_image_instance_id_list_cleanup
static Napi::Value ImageInstanceIdList(const Napi::CallbackInfo& info) {
  PageArgs p = ReadPage(info, "Mirror.listInstanceIds");
  return RunAsync<IdPairs>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io, start = p.startAfter, max = p.max](IdPairs& out) {
        std::vector<char*> ids(max, nullptr), instances(max, nullptr);
        size_t len = 0;
        int rc = rbd_mirror_image_instance_id_list(io, start.c_str(), max, ids.data(), instances.data(), &len);
        if (rc < 0) return rc;
        for (size_t i = 0; i < len; ++i) {
          out.emplace_back(ids[i] != nullptr ? ids[i] : "", instances[i] != nullptr ? instances[i] : "");
        }
        rbd_mirror_image_instance_id_list_cleanup(ids.data(), instances.data(), len);
        return 0;
      },
      [](Napi::Env env, IdPairs& pairs) -> Napi::Value { return StringPairsToArray(env, pairs); });
}

void AddMirrorListFunctions(Napi::Env env, Napi::Object mirror) {
  SetFn(env, mirror, "imageStatusSummary", ImageStatusSummary);
  SetFn(env, mirror, "imageGlobalStatusList", ImageGlobalStatusList);
  SetFn(env, mirror, "imageInfoList", ImageInfoList);
  SetFn(env, mirror, "imageInstanceIdList", ImageInstanceIdList);
}

}  // namespace cephrbd
