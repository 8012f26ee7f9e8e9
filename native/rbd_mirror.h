// RBD mirroring (rbd_mirror_*): the `rbdMirror` module object.
//   rbd_mirror.cc        site name, pool mode, mirror uuid, peer bootstrap,
//                        peer sites and their attributes
//   rbd_mirror_list.cc   pool-wide image status summary and paged listings
//   rbd_mirror_image.cc  one image: enable/disable, promote/demote, resync,
//                        info, mode, global status, instance id, snapshots
// Enums cross as numbers into C++ (lib/rbd-mirror.ts maps the names) and come
// back as the names below.
#pragma once
#include <napi.h>
#include <rbd/librbd.h>

#include <string>
#include <vector>

namespace cephrbd {

void InitRbdMirror(Napi::Env env, Napi::Object exports);
void AddMirrorListFunctions(Napi::Env env, Napi::Object mirror);
void AddMirrorImageFunctions(Napi::Env env, Napi::Object mirror);

const char* MirrorImageModeName(rbd_mirror_image_mode_t mode);
const char* MirrorImageStateName(rbd_mirror_image_state_t state);
const char* MirrorStatusStateName(rbd_mirror_image_status_state_t state);

// rbd_mirror_image_info_t copied out of librbd's strings.
struct MirrorInfo {
  std::string globalId;
  rbd_mirror_image_state_t state = RBD_MIRROR_IMAGE_DISABLED;
  bool primary = false;
};
MirrorInfo CopyMirrorInfo(const rbd_mirror_image_info_t& info);
Napi::Object MirrorInfoToJs(Napi::Env env, const MirrorInfo& info);

struct MirrorSiteStatus {
  std::string mirrorUuid;
  rbd_mirror_image_status_state_t state = MIRROR_IMAGE_STATUS_STATE_UNKNOWN;
  std::string description;
  int64_t lastUpdate = 0;  // seconds
  bool up = false;
};
struct MirrorGlobalStatus {
  std::string name;
  MirrorInfo info;
  std::vector<MirrorSiteStatus> sites;
};
MirrorGlobalStatus CopyGlobalStatus(const rbd_mirror_image_global_status_t& status);
Napi::Object GlobalStatusToJs(Napi::Env env, const MirrorGlobalStatus& status);

}  // namespace cephrbd
