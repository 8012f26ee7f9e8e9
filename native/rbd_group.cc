// RBD groups: create/remove/rename/list, member images, group snapshots
// (crash-consistent snapshots of every member at once), and an image's group.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

namespace {

struct GroupArgs {
  IoCtx* ioctx;
  rados_ioctx_t io;
  std::string group;
  ErrorContext ctx;
};

// (ioctx, group, ...): the group's I/O context and name.
GroupArgs ReadGroup(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string group = ArgString(info, 1, "group");
  ErrorContext ctx = ioctx->Ctx(op, "rbd");
  ctx.object = group;  // errors name the group as "object=<group>"
  return {ioctx, ioctx->io(), group, ctx};
}

struct GroupImage {
  std::string name;
  int64_t pool;
  int state;
};

struct GroupSnap {
  std::string name;
  int state;
};

}  // namespace

// Implements: rbd_group_create
static Napi::Value GroupCreate(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.create");
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx, [io = g.io, name = g.group] { return rbd_group_create(io, name.c_str()); });
}

// Implements: rbd_group_remove
static Napi::Value GroupRemove(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.remove");
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx, [io = g.io, name = g.group] { return rbd_group_remove(io, name.c_str()); });
}

// Implements: rbd_group_rename
static Napi::Value GroupRename(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.rename");
  std::string dst = ArgString(info, 2, "dst");
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx,
                      [io = g.io, src = g.group, dst] { return rbd_group_rename(io, src.c_str(), dst.c_str()); });
}

// Implements: rbd_group_list
static Napi::Value GroupList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  rados_ioctx_t io = ioctx->io();
  return RunAsync<std::vector<std::string>>(
      env, ioctx, ioctx->Ctx("Group.list", "rbd"),
      [io](std::vector<std::string>& out) {
        std::vector<char> buf;
        size_t used = 0;
        int rc = GrowAndRetry(buf, 1024, [&](char* data, size_t* len) {
          int r = rbd_group_list(io, data, len);
          used = *len;
          return r < 0 ? r : 0;
        });
        if (rc < 0) return rc;
        out = SplitNulList(buf.data(), std::min(used, buf.size()));
        return 0;
      },
      [](Napi::Env env, std::vector<std::string>& names) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, names.size());
        for (size_t i = 0; i < names.size(); ++i) arr.Set(static_cast<uint32_t>(i), names[i]);
        return arr;
      });
}

// groupImageAdd/Remove(groupIoctx, group, imageIoctx, image, byId?)
// Implements: rbd_group_image_add, rbd_group_image_remove, rbd_group_image_remove_by_id
static Napi::Value GroupImageChange(const Napi::CallbackInfo& info, bool add) {
  Napi::Env env = info.Env();
  GroupArgs g = ReadGroup(info, add ? "Group.addImage" : "Group.removeImage");
  IoCtx* imageIoctx = IoCtx::FromValue(env, info[2]);
  std::string image = ArgString(info, 3, "image");
  bool byId = ArgBool(info, 4);
  g.ctx.image = image;
  std::shared_ptr<void> ref = EnterSecondHandle(env, imageIoctx);
  if (!ref) return RejectClosed(env, g.ctx, imageIoctx);
  rados_ioctx_t iio = imageIoctx->io();
  return RunAsyncVoid(env, g.ioctx, g.ctx, [ref, io = g.io, group = g.group, iio, image, add, byId] {
    if (add) return rbd_group_image_add(io, group.c_str(), iio, image.c_str());
    if (byId) return rbd_group_image_remove_by_id(io, group.c_str(), iio, image.c_str());
    return rbd_group_image_remove(io, group.c_str(), iio, image.c_str());
  });
}
static Napi::Value GroupImageAdd(const Napi::CallbackInfo& info) { return GroupImageChange(info, true); }
static Napi::Value GroupImageRemove(const Napi::CallbackInfo& info) { return GroupImageChange(info, false); }

// groupImageList(ioctx, group) -> [{ name, pool, state }]
// Implements: rbd_group_image_list, rbd_group_image_list_cleanup
static Napi::Value GroupImageList(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.listImages");
  return RunAsync<std::vector<GroupImage>>(
      info.Env(), g.ioctx, g.ctx,
      [io = g.io, group = g.group](std::vector<GroupImage>& out) {
        std::vector<rbd_group_image_info_t> items;
        size_t count = 0;
        int rc = GrowAndRetry(items, 16, [&](rbd_group_image_info_t* data, size_t* len) {
          count = *len;
          int r = rbd_group_image_list(io, group.c_str(), data, sizeof(rbd_group_image_info_t), &count);
          if (r == -ERANGE) *len = count;
          return r;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) out.push_back({items[i].name, items[i].pool, items[i].state});
        rbd_group_image_list_cleanup(items.data(), sizeof(rbd_group_image_info_t), count);
        return 0;
      },
      [](Napi::Env env, std::vector<GroupImage>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("name", list[i].name);
          o.Set("poolId", Napi::Number::New(env, static_cast<double>(list[i].pool)));
          o.Set("state", list[i].state == RBD_GROUP_IMAGE_STATE_ATTACHED ? "attached" : "incomplete");
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// groupSnapCreate(ioctx, group, snap, flags?): flags are RBD_SNAP_CREATE_*;
// without flags the plain call (which honours rbd_default_snapshot_quiesce_mode).
// Implements: rbd_group_snap_create, rbd_group_snap_create2
static Napi::Value GroupSnapCreate(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.createSnap");
  std::string snap = ArgString(info, 2, "snapshot");
  bool hasFlags = info[3].IsNumber();
  uint32_t flags = hasFlags ? info[3].As<Napi::Number>().Uint32Value() : 0;
  g.ctx.snapshot = snap;
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx, [io = g.io, group = g.group, snap, hasFlags, flags] {
    return hasFlags ? rbd_group_snap_create2(io, group.c_str(), snap.c_str(), flags)
                    : rbd_group_snap_create(io, group.c_str(), snap.c_str());
  });
}

// Implements: rbd_group_snap_remove
static Napi::Value GroupSnapRemove(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.removeSnap");
  std::string snap = ArgString(info, 2, "snapshot");
  g.ctx.snapshot = snap;
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx, [io = g.io, group = g.group, snap] {
    return rbd_group_snap_remove(io, group.c_str(), snap.c_str());
  });
}

// Implements: rbd_group_snap_rename
static Napi::Value GroupSnapRename(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.renameSnap");
  std::string src = ArgString(info, 2, "src");
  std::string dst = ArgString(info, 3, "dst");
  g.ctx.snapshot = src;
  return RunAsyncVoid(info.Env(), g.ioctx, g.ctx, [io = g.io, group = g.group, src, dst] {
    return rbd_group_snap_rename(io, group.c_str(), src.c_str(), dst.c_str());
  });
}

// groupSnapList(ioctx, group) -> [{ name, state }]
// Implements: rbd_group_snap_list, rbd_group_snap_list_cleanup
static Napi::Value GroupSnapList(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.listSnaps");
  return RunAsync<std::vector<GroupSnap>>(
      info.Env(), g.ioctx, g.ctx,
      [io = g.io, group = g.group](std::vector<GroupSnap>& out) {
        std::vector<rbd_group_snap_info_t> items;
        size_t count = 0;
        int rc = GrowAndRetry(items, 16, [&](rbd_group_snap_info_t* data, size_t* len) {
          count = *len;
          int r = rbd_group_snap_list(io, group.c_str(), data, sizeof(rbd_group_snap_info_t), &count);
          if (r == -ERANGE) *len = count;
          return r;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) out.push_back({items[i].name, items[i].state});
        rbd_group_snap_list_cleanup(items.data(), sizeof(rbd_group_snap_info_t), count);
        return 0;
      },
      [](Napi::Env env, std::vector<GroupSnap>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("name", list[i].name);
          o.Set("state", list[i].state == RBD_GROUP_SNAP_STATE_COMPLETE ? "complete" : "incomplete");
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// groupSnapRollback(ioctx, group, snap, onProgress?, cancel?)
// Implements: rbd_group_snap_rollback, rbd_group_snap_rollback_with_progress
static Napi::Value GroupSnapRollback(const Napi::CallbackInfo& info) {
  GroupArgs g = ReadGroup(info, "Group.rollbackToSnap");
  std::string snap = ArgString(info, 2, "snapshot");
  g.ctx.snapshot = snap;
  rados_ioctx_t io = g.io;
  std::string group = g.group;
  return RunPlainOrProgress(
      info.Env(), g.ioctx, g.ctx, info[3], info[4],
      [io, group, snap] { return rbd_group_snap_rollback(io, group.c_str(), snap.c_str()); },
      [io, group, snap](librbd_progress_fn_t fn, void* arg) {
        return rbd_group_snap_rollback_with_progress(io, group.c_str(), snap.c_str(), fn, arg);
      });
}

// imageGetGroup(image) -> { name, poolId } | null
// Implements: rbd_get_group, rbd_group_info_cleanup
static Napi::Value ImageGetGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_image_t img = image->image();
  return RunAsync<GroupImage>(
      env, image, image->Ctx("Image.getGroup"),
      [img](GroupImage& out) {
        rbd_group_info_t gi{};
        int rc = rbd_get_group(img, &gi, sizeof(gi));
        if (rc < 0) return rc;
        out = {gi.name != nullptr ? gi.name : "", gi.pool, 0};
        rbd_group_info_cleanup(&gi, sizeof(gi));
        return 0;
      },
      [](Napi::Env env, GroupImage& g) -> Napi::Value {
        if (g.name.empty()) return env.Null();
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", g.name);
        o.Set("poolId", Napi::Number::New(env, static_cast<double>(g.pool)));
        return o;
      });
}

void AddGroupFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "groupCreate", GroupCreate);
  SetFn(env, rbdx, "groupRemove", GroupRemove);
  SetFn(env, rbdx, "groupRename", GroupRename);
  SetFn(env, rbdx, "groupList", GroupList);
  SetFn(env, rbdx, "groupImageAdd", GroupImageAdd);
  SetFn(env, rbdx, "groupImageRemove", GroupImageRemove);
  SetFn(env, rbdx, "groupImageList", GroupImageList);
  SetFn(env, rbdx, "groupSnapCreate", GroupSnapCreate);
  SetFn(env, rbdx, "groupSnapRemove", GroupSnapRemove);
  SetFn(env, rbdx, "groupSnapRename", GroupSnapRename);
  SetFn(env, rbdx, "groupSnapList", GroupSnapList);
  SetFn(env, rbdx, "groupSnapRollback", GroupSnapRollback);
  SetFn(env, rbdx, "imageGetGroup", ImageGetGroup);
}

}  // namespace cephrbd
