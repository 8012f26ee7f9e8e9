// Snapshots by id and by namespace: the name and namespace of a snapshot
// id, the group/trash/mirror namespace details (a clone-v2 parent removed
// while it has clones lives on in the trash namespace, addressable only by
// id), remove/set by id, and snap_create2 with quiesce flags and progress.
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

namespace {
constexpr uint64_t kNoSnap = static_cast<uint64_t>(-2);  // CEPH_NOSNAP: the head
Napi::Value Str(Napi::Env env, std::string& s) { return Napi::String::New(env, s); }

ErrorContext IdCtx(Image* image, const char* op, uint64_t id) {
  ErrorContext ctx = image->Ctx(op);
  ctx.snapshot = "#" + std::to_string(id);
  return ctx;
}
}  // namespace

// snapGetName(image, id)
// Implements: rbd_snap_get_name
static Napi::Value SnapGetName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<std::string>(
      env, image, IdCtx(image, "Image.snapGetName", id),
      [img, id](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) { return rbd_snap_get_name(img, id, data, len); });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      Str);
}

// snapGetId(image, name)
// Implements: rbd_snap_get_id
static Napi::Value SnapGetId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rbd_image_t img = image->image();
  return RunAsync<uint64_t>(
      env, image, image->SnapCtx("Image.snapGetId", name),
      [img, name](uint64_t& out) { return rbd_snap_get_id(img, name.c_str(), &out); },
      [](Napi::Env env, uint64_t& v) { return Napi::Number::New(env, static_cast<double>(v)); });
}

// snapGetNamespaceType(image, id) -> RBD_SNAP_NAMESPACE_TYPE_*
// Implements: rbd_snap_get_namespace_type
static Napi::Value SnapGetNamespaceType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<int>(
      env, image, IdCtx(image, "Image.snapGetNamespaceType", id),
      [img, id](int& out) {
        rbd_snap_namespace_type_t t = RBD_SNAP_NAMESPACE_TYPE_USER;
        int rc = rbd_snap_get_namespace_type(img, id, &t);
        out = t;
        return rc;
      },
      [](Napi::Env env, int& v) { return Napi::Number::New(env, v); });
}

namespace {
struct GroupNs {
  int64_t pool;
  std::string group, snap;
};
}  // namespace

// snapGetGroupNamespace(image, id) -> { poolId, group, groupSnapshot };
// EINVAL when the snapshot is not a group snapshot.
// Implements: rbd_snap_get_group_namespace, rbd_snap_group_namespace_cleanup
static Napi::Value SnapGetGroupNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<GroupNs>(
      env, image, IdCtx(image, "Image.snapGetGroupNamespace", id),
      [img, id](GroupNs& out) {
        rbd_snap_group_namespace_t ns{};
        int rc = rbd_snap_get_group_namespace(img, id, &ns, sizeof(ns));
        if (rc < 0) return rc;
        out = {ns.group_pool, ns.group_name ? ns.group_name : "", ns.group_snap_name ? ns.group_snap_name : ""};
        rbd_snap_group_namespace_cleanup(&ns, sizeof(ns));
        return 0;
      },
      [](Napi::Env env, GroupNs& g) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("poolId", Napi::Number::New(env, static_cast<double>(g.pool)));
        o.Set("group", g.group);
        o.Set("groupSnapshot", g.snap);
        return o;
      });
}

// snapGetTrashNamespace(image, id) -> the snapshot's name before it was
// moved to the trash namespace; EINVAL when it is not there.
// Implements: rbd_snap_get_trash_namespace
static Napi::Value SnapGetTrashNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<std::string>(
      env, image, IdCtx(image, "Image.snapGetTrashNamespace", id),
      [img, id](std::string& out) {
        std::vector<char> buf(RBD_MAX_IMAGE_NAME_SIZE + 1, '\0');
        int rc = rbd_snap_get_trash_namespace(img, id, buf.data(), buf.size());
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      Str);
}

namespace {
struct MirrorNs {
  int state;
  std::vector<std::string> peers;
  bool complete;
  std::string primaryUuid;
  uint64_t primarySnapId, lastCopied;
};
}  // namespace

// snapGetMirrorNamespace(image, id) -> { state, peerUuids, complete,
// primaryMirrorUuid, primarySnapId, lastCopiedObjectNumber }
// Implements: rbd_snap_get_mirror_namespace, rbd_snap_mirror_namespace_cleanup
static Napi::Value SnapGetMirrorNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<MirrorNs>(
      env, image, IdCtx(image, "Image.snapGetMirrorNamespace", id),
      [img, id](MirrorNs& out) {
        rbd_snap_mirror_namespace_t ns{};
        int rc = rbd_snap_get_mirror_namespace(img, id, &ns, sizeof(ns));
        if (rc < 0) return rc;
        out.state = ns.state;
        const char* p = ns.mirror_peer_uuids;
        for (size_t i = 0; p != nullptr && i < ns.mirror_peer_uuids_count; ++i) {
          out.peers.emplace_back(p);
          p += out.peers.back().size() + 1;
        }
        out.complete = ns.complete;
        out.primaryUuid = ns.primary_mirror_uuid ? ns.primary_mirror_uuid : "";
        out.primarySnapId = ns.primary_snap_id;
        out.lastCopied = ns.last_copied_object_number;
        rbd_snap_mirror_namespace_cleanup(&ns, sizeof(ns));
        return 0;
      },
      [](Napi::Env env, MirrorNs& m) -> Napi::Value {
        static const char* kStates[] = {"primary", "primary-demoted", "non-primary", "non-primary-demoted"};
        Napi::Object o = Napi::Object::New(env);
        o.Set("state", m.state >= 0 && m.state < 4 ? kStates[m.state] : "unknown");
        Napi::Array peers = Napi::Array::New(env, m.peers.size());
        for (size_t i = 0; i < m.peers.size(); ++i) peers.Set(static_cast<uint32_t>(i), m.peers[i]);
        o.Set("peerUuids", peers);
        o.Set("complete", m.complete);
        o.Set("primaryMirrorUuid", m.primaryUuid);
        o.Set("primarySnapId", Napi::Number::New(env, static_cast<double>(m.primarySnapId)));
        o.Set("lastCopiedObjectNumber", Napi::Number::New(env, static_cast<double>(m.lastCopied)));
        return o;
      });
}

// snapRemoveById(image, id): the only way to remove a snapshot that has no
// user-namespace name (trash or group namespace).
// Implements: rbd_snap_remove_by_id
static Napi::Value SnapRemoveById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  uint64_t id = ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, IdCtx(image, "Image.snapRemoveById", id),
                      [img, id] { return rbd_snap_remove_by_id(img, id); });
}

// snapSetById(image, id | null): read from the snapshot with this id (any
// namespace), or from the head again.
// Implements: rbd_snap_set_by_id
static Napi::Value SnapSetById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  bool head = info[1].IsNull() || info[1].IsUndefined();
  uint64_t id = head ? kNoSnap : ArgU64(info, 1, "id");
  rbd_image_t img = image->image();
  return RunAsync<std::string>(
      env, image, IdCtx(image, "Image.snapSetById", id),
      [img, bounds = image->bounds(), id, head](std::string& name) {
        int rc = rbd_snap_set_by_id(img, id);
        bounds->Invalidate();  // another view, another size
        if (rc < 0 || head) return rc;
        char buf[RBD_MAX_IMAGE_NAME_SIZE + 1] = {0};
        size_t len = sizeof(buf);
        if (rbd_snap_get_name(img, id, buf, &len) == 0) name = buf;
        if (name.empty()) name = "#" + std::to_string(id);
        return 0;
      },
      [image](Napi::Env env, std::string& name) -> Napi::Value {
        image->set_snap(name);
        return env.Undefined();
      });
}

// snapCreate2(image, name, flags, onProgress?): flags are RBD_SNAP_CREATE_*
// (skip quiesce / ignore quiesce errors).
// Implements: rbd_snap_create2
static Napi::Value SnapCreate2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  uint32_t flags = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  rbd_image_t img = image->image();
  return RunWithProgress(env, image, image->SnapCtx("Image.createSnap", name), info[3], Napi::Value(),
                         [img, name, flags](librbd_progress_fn_t fn, void* arg) {
                           return rbd_snap_create2(img, name.c_str(), flags, fn, arg);
                         });
}

void AddSnapExtFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "snapGetName", SnapGetName);
  SetFn(env, rbdx, "snapGetId", SnapGetId);
  SetFn(env, rbdx, "snapGetNamespaceType", SnapGetNamespaceType);
  SetFn(env, rbdx, "snapGetGroupNamespace", SnapGetGroupNamespace);
  SetFn(env, rbdx, "snapGetTrashNamespace", SnapGetTrashNamespace);
  SetFn(env, rbdx, "snapGetMirrorNamespace", SnapGetMirrorNamespace);
  SetFn(env, rbdx, "snapRemoveById", SnapRemoveById);
  SetFn(env, rbdx, "snapSetById", SnapSetById);
  SetFn(env, rbdx, "snapCreate2", SnapCreate2);
}

}  // namespace cephrbd
