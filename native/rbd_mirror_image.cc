// RBD mirroring of one open image: enable (journal or snapshot mode),
// disable, promote, demote, resync, mirror snapshots, and what the image's
// mirroring looks like (info, mode, global status, replaying instance).
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/args.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"
#include "rbd_mirror.h"

namespace cephrbd {

namespace {
struct ImageArgs {
  Image* image;
  rbd_image_t img;
  ErrorContext ctx;
};

ImageArgs ReadImage(const Napi::CallbackInfo& info, const char* op) {
  Image* image = Image::FromValue(info.Env(), info[0]);
  return {image, image->image(), image->Ctx(op)};
}
}  // namespace

// imageEnable(image, mode: 0 journal | 1 snapshot). Journal mode turns the
// journaling feature on (exclusive-lock is required for it).
// Implements: rbd_mirror_image_enable2
static Napi::Value ImageEnable(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorEnable");
  uint64_t mode = ArgU64(info, 1, "mode");
  if (mode > RBD_MIRROR_IMAGE_MODE_SNAPSHOT) throw Napi::RangeError::New(info.Env(), "mode is out of range");
  return RunAsyncVoid(info.Env(), a.image, a.ctx, [img = a.img, mode] {
    return rbd_mirror_image_enable2(img, static_cast<rbd_mirror_image_mode_t>(mode));
  });
}

// imageDisable(image, force)
// Implements: rbd_mirror_image_disable
static Napi::Value ImageDisable(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorDisable");
  bool force = ArgBool(info, 1);
  return RunAsyncVoid(info.Env(), a.image, a.ctx, [img = a.img, force] { return rbd_mirror_image_disable(img, force); });
}

// imagePromote(image, force)
// Implements: rbd_mirror_image_promote
static Napi::Value ImagePromote(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorPromote");
  bool force = ArgBool(info, 1);
  return RunAsyncVoid(info.Env(), a.image, a.ctx, [img = a.img, force] { return rbd_mirror_image_promote(img, force); });
}

// Implements: rbd_mirror_image_demote
static Napi::Value ImageDemote(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorDemote");
  return RunAsyncVoid(info.Env(), a.image, a.ctx, [img = a.img] { return rbd_mirror_image_demote(img); });
}

// Implements: rbd_mirror_image_resync
static Napi::Value ImageResync(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorResync");
  return RunAsyncVoid(info.Env(), a.image, a.ctx, [img = a.img] { return rbd_mirror_image_resync(img); });
}

// imageCreateSnapshot(image, flags?) -> snap id. flags are RBD_SNAP_CREATE_*;
// without them the plain call (rbd_default_snapshot_quiesce_mode applies).
// Implements: rbd_mirror_image_create_snapshot, rbd_mirror_image_create_snapshot2
static Napi::Value ImageCreateSnapshot(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorCreateSnapshot");
  bool hasFlags = info[1].IsNumber();
  uint32_t flags = hasFlags ? info[1].As<Napi::Number>().Uint32Value() : 0;
  return RunAsync<uint64_t>(
      info.Env(), a.image, a.ctx,
      [img = a.img, hasFlags, flags](uint64_t& id) {
        return hasFlags ? rbd_mirror_image_create_snapshot2(img, flags, &id) : rbd_mirror_image_create_snapshot(img, &id);
      },
      [](Napi::Env env, uint64_t& id) { return Napi::Number::New(env, static_cast<double>(id)); });
}

// imageGetInfo(image) -> { globalId, state, primary }
// Implements: rbd_mirror_image_get_info, rbd_mirror_image_get_info_cleanup
static Napi::Value ImageGetInfo(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorGetInfo");
  return RunAsync<MirrorInfo>(
      info.Env(), a.image, a.ctx,
      [img = a.img](MirrorInfo& out) {
        rbd_mirror_image_info_t mi{};
        int rc = rbd_mirror_image_get_info(img, &mi, sizeof(mi));
        if (rc < 0) return rc;
        out = CopyMirrorInfo(mi);
        rbd_mirror_image_get_info_cleanup(&mi);
        return 0;
      },
      [](Napi::Env env, MirrorInfo& mi) -> Napi::Value { return MirrorInfoToJs(env, mi); });
}

// imageGetMode(image) -> 'journal' | 'snapshot' (EINVAL when not enabled)
// Implements: rbd_mirror_image_get_mode
static Napi::Value ImageGetMode(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorGetMode");
  return RunAsync<rbd_mirror_image_mode_t>(
      info.Env(), a.image, a.ctx, [img = a.img](rbd_mirror_image_mode_t& m) { return rbd_mirror_image_get_mode(img, &m); },
      [](Napi::Env env, rbd_mirror_image_mode_t& m) -> Napi::Value { return Napi::String::New(env, MirrorImageModeName(m)); });
}

// imageGetGlobalStatus(image) -> { name, info, siteStatuses: [{ mirrorUuid, state, description, lastUpdateMs, up }] }
// Implements: rbd_mirror_image_get_global_status, rbd_mirror_image_global_status_cleanup
static Napi::Value ImageGetGlobalStatus(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorGetGlobalStatus");
  return RunAsync<MirrorGlobalStatus>(
      info.Env(), a.image, a.ctx,
      [img = a.img](MirrorGlobalStatus& out) {
        rbd_mirror_image_global_status_t gs{};
        int rc = rbd_mirror_image_get_global_status(img, &gs, sizeof(gs));
        if (rc < 0) return rc;
        out = CopyGlobalStatus(gs);
        rbd_mirror_image_global_status_cleanup(&gs);
        return 0;
      },
      [](Napi::Env env, MirrorGlobalStatus& gs) -> Napi::Value { return GlobalStatusToJs(env, gs); });
}

// imageGetInstanceId(image) -> the instance id of the rbd-mirror daemon of
// this site replaying the image (ENOENT when none does)
// Implements: rbd_mirror_image_get_instance_id
static Napi::Value ImageGetInstanceId(const Napi::CallbackInfo& info) {
  ImageArgs a = ReadImage(info, "Image.mirrorGetInstanceId");
  return RunAsync<std::string>(
      info.Env(), a.image, a.ctx,
      [img = a.img](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 64, [&](char* data, size_t* len) { return rbd_mirror_image_get_instance_id(img, data, len); });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      [](Napi::Env env, std::string& s) -> Napi::Value { return Napi::String::New(env, s); });
}

void AddMirrorImageFunctions(Napi::Env env, Napi::Object mirror) {
  SetFn(env, mirror, "imageEnable", ImageEnable);
  SetFn(env, mirror, "imageDisable", ImageDisable);
  SetFn(env, mirror, "imagePromote", ImagePromote);
  SetFn(env, mirror, "imageDemote", ImageDemote);
  SetFn(env, mirror, "imageResync", ImageResync);
  SetFn(env, mirror, "imageCreateSnapshot", ImageCreateSnapshot);
  SetFn(env, mirror, "imageGetInfo", ImageGetInfo);
  SetFn(env, mirror, "imageGetMode", ImageGetMode);
  SetFn(env, mirror, "imageGetGlobalStatus", ImageGetGlobalStatus);
  SetFn(env, mirror, "imageGetInstanceId", ImageGetInstanceId);
}

}  // namespace cephrbd
