// Clones: Rbd.clone (a module function), and the clone and copy methods of
// an open image: parent, children, overlap, flatten, copy and deep copy.
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rados_ioctx.h"
#include "rbd_admin.h"
#include "rbd_image.h"

namespace cephrbd {

void Image::AddCloneMethods(Props& props) {
  props.push_back(InstanceMethod<&Image::Flatten>("flatten"));
  props.push_back(InstanceMethod<&Image::ParentInfo>("parentInfo"));
  props.push_back(InstanceMethod<&Image::ListChildren>("listChildren"));
  props.push_back(InstanceMethod<&Image::Overlap>("overlap"));
  props.push_back(InstanceMethod<&Image::Copy>("copy"));
  props.push_back(InstanceMethod<&Image::DeepCopy>("deepCopy"));
}

namespace {

struct Parent {
  std::string pool, nspace, image, id, snapshot;
  uint64_t snapshotId = 0;
  bool trash = false;
};

struct Child {
  std::string pool, nspace, image, id;
  bool trash = false;
};

std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

Child CopyChild(const rbd_linked_image_spec_t& spec) {
  return Child{Str(spec.pool_name), Str(spec.pool_namespace), Str(spec.image_name), Str(spec.image_id), spec.trash};
}

}  // namespace

// flatten(onProgress?, cancelFlag?): EINVAL when the image is not a clone.
// Implements: rbd_flatten, rbd_flatten_with_progress
Napi::Value Image::Flatten(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunPlainOrProgress(
      info.Env(), this, Ctx("Image.flatten"), info[0], info[1], [img] { return rbd_flatten(img); },
      [img](librbd_progress_fn_t fn, void* arg) { return rbd_flatten_with_progress(img, fn, arg); });
}

// parentInfo() -> { pool, namespace, image, id, snapshot, snapshotId, trash };
// ENOENT (ImageNotFound) when the image is not a clone, as in python-rbd.
// Implements: rbd_get_parent, rbd_linked_image_spec_cleanup, rbd_snap_spec_cleanup
Napi::Value Image::ParentInfo(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<Parent>(
      info.Env(), this, Ctx("Image.parentInfo"),
      [img](Parent& out) {
        rbd_linked_image_spec_t spec{};
        rbd_snap_spec_t snap{};
        int rc = rbd_get_parent(img, &spec, &snap);
        if (rc < 0) return rc;  // librbd zeroes both on failure: nothing to free
        out.pool = Str(spec.pool_name);
        out.nspace = Str(spec.pool_namespace);
        out.image = Str(spec.image_name);
        out.id = Str(spec.image_id);
        out.trash = spec.trash;
        out.snapshot = Str(snap.name);
        out.snapshotId = snap.id;
        rbd_linked_image_spec_cleanup(&spec);
        rbd_snap_spec_cleanup(&snap);
        return 0;
      },
      [](Napi::Env env, Parent& p) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("pool", p.pool);
        o.Set("namespace", p.nspace);
        o.Set("image", p.image);
        o.Set("id", p.id);
        o.Set("snapshot", p.snapshot);
        o.Set("snapshotId", Napi::Number::New(env, static_cast<double>(p.snapshotId)));
        o.Set("trash", p.trash);
        return o;
      });
}

// listChildren() -> [{ pool, namespace, image, id, trash }]: the clones of
// the snapshot the image is set to (of every snapshot at the head).
// Implements: rbd_list_children3, rbd_linked_image_spec_list_cleanup
Napi::Value Image::ListChildren(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<std::vector<Child>>(
      info.Env(), this, Ctx("Image.listChildren"),
      [img](std::vector<Child>& out) {
        std::vector<rbd_linked_image_spec_t> specs;
        size_t count = 0;
        int rc = GrowAndRetry(specs, 16, [&](rbd_linked_image_spec_t* data, size_t* len) {
          int r = rbd_list_children3(img, data, len);
          if (r >= 0) count = *len;
          return r;
        });
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) out.push_back(CopyChild(specs[i]));
        rbd_linked_image_spec_list_cleanup(specs.data(), count);
        return 0;
      },
      [](Napi::Env env, std::vector<Child>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("pool", list[i].pool);
          o.Set("namespace", list[i].nspace);
          o.Set("image", list[i].image);
          o.Set("id", list[i].id);
          o.Set("trash", list[i].trash);
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// overlap() -> bytes of the parent still shared with this clone.
// Implements: rbd_get_overlap
Napi::Value Image::Overlap(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<uint64_t>(
      info.Env(), this, Ctx("Image.overlap"), [img](uint64_t& out) { return rbd_get_overlap(img, &out); },
      [](Napi::Env env, uint64_t& v) { return Napi::Number::New(env, static_cast<double>(v)); });
}

// copy/deepCopy(destIoctx, destName, options, onProgress?, cancelFlag?).
// The image is the handle RunWithProgress tracks; the destination IoCtx is
// held by an EnterSecondHandle token captured in the call (see there).
// librbd's copy and deep copy ignore the progress callback's return value,
// so an abort cannot stop them early; an abort seen while they ran still
// fails the call with ECANCELED (AbortError), as Node's own APIs reject once
// aborted. Either way the destination image is left for the caller to remove.
using CopyFn = int (*)(rbd_image_t, rados_ioctx_t, const char*, rbd_image_options_t, librbd_progress_fn_t,
                       void*);
using PlainCopyFn = int (*)(rbd_image_t, rados_ioctx_t, const char*, rbd_image_options_t);

static Napi::Value CopyTo(const Napi::CallbackInfo& info, Image* self, rbd_image_t img, ErrorContext ctx,
                          CopyFn fn, PlainCopyFn plain) {
  Napi::Env env = info.Env();
  IoCtx* dest = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "destName");
  ImageOptions o = ReadImageOptions(env, info[2]);
  std::shared_ptr<void> destRef = EnterSecondHandle(env, dest);
  if (!destRef) return RejectClosed(env, ctx, dest);
  rados_ioctx_t io = dest->io();
  if (!info[3].IsFunction() && !info[4].IsTypedArray()) {  // no progress asked: the plain call
    return RunAsyncVoid(env, self, std::move(ctx), [destRef, img, io, name, o, plain] {
      return WithImageOptions(o, [&](rbd_image_options_t opts) { return plain(img, io, name.c_str(), opts); });
    });
  }
  return RunWithProgress(env, self, std::move(ctx), info[3], info[4],
                         [destRef, img, io, name, o, fn](librbd_progress_fn_t cb, void* arg) {
                           int rc = WithImageOptions(o, [&](rbd_image_options_t opts) {
                             return fn(img, io, name.c_str(), opts, cb, arg);
                           });
                           // RunWithProgress passes its Progress as the callback's argument.
                           if (rc == 0 && static_cast<Progress*>(arg)->Cancelled()) rc = -ECANCELED;
                           return rc;
                         });
}

// Copies the data at the current snapshot (or head) into a new image.
// Implements: rbd_copy3, rbd_copy_with_progress3
Napi::Value Image::Copy(const Napi::CallbackInfo& info) {
  return CopyTo(info, this, image_, Ctx("Image.copy"), &rbd_copy_with_progress3, &rbd_copy3);
}

// Copies the image with its snapshots (and clone parent link).
// Implements: rbd_deep_copy, rbd_deep_copy_with_progress
Napi::Value Image::DeepCopy(const Napi::CallbackInfo& info) {
  return CopyTo(info, this, image_, Ctx("Image.deepCopy"), &rbd_deep_copy_with_progress, &rbd_deep_copy);
}

// clone(parentIoctx, parentName, snapName, childIoctx, childName, options)
// The parent IoCtx is the handle RunAsync tracks; the child IoCtx is held by
// an EnterSecondHandle token (one IoCtx for both is fine: entered twice).
// WithImageOptions always sets format 2, which clone requires (CloneRequest
// rejects format < 2 with EINVAL). Without `features`, librbd would copy the
// parent's features; we use the pool's rbd_default_features instead, as
// Rbd.create does. Errors name the parent image and snapshot.
// Implements: rbd_clone3
static Napi::Value Clone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* parent = IoCtx::FromValue(env, info[0]);
  std::string parentName = ArgString(info, 1, "parentName");
  std::string snapName = ArgString(info, 2, "snapName");
  IoCtx* child = IoCtx::FromValue(env, info[3]);
  std::string childName = ArgString(info, 4, "childName");
  ImageOptions o = ReadImageOptions(env, info[5]);
  ErrorContext ctx = ImageCtx(parent, "Rbd.clone", parentName);
  ctx.snapshot = snapName;
  std::shared_ptr<void> childRef = EnterSecondHandle(env, child);
  if (!childRef) return RejectClosed(env, ctx, child);
  rados_ioctx_t pio = parent->io();
  rados_ioctx_t cio = child->io();
  return RunAsyncVoid(env, parent, ctx, [childRef, pio, cio, parentName, snapName, childName, o] {
    ImageOptions options = o;
    if (!options.hasFeatures) {
      int rc = DefaultFeatures(cio, &options.features);
      if (rc < 0) return rc;
      options.hasFeatures = true;
    }
    return WithImageOptions(options, [&](rbd_image_options_t opts) {
      return rbd_clone3(pio, parentName.c_str(), snapName.c_str(), cio, childName.c_str(), opts);
    });
  });
}

void AddCloneFunction(Napi::Env env, Napi::Object rbd) {
  rbd.Set("clone", Napi::Function::New(env, Clone, "clone"));
}

}  // namespace cephrbd
