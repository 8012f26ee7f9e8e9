#include "rbd_image.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "common/addon_data.h"
#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "common/wrap.h"
#include "rados_cluster.h"
#include "rados_ioctx.h"

namespace cephrbd {

const napi_type_tag kImageTag = {0x6b3f2a1c9d4e4f03ULL, 0xa1b2c3d4e5f6071aULL};

void Image::Init(Napi::Env env, Napi::Object exports) {
  Props props;
  AddCoreMethods(props);
  AddIoMethods(props);
  AddSnapMethods(props);
  AddCloneMethods(props);
  AddMetaMethods(props);
  Napi::Function ctor = DefineClass(env, "Image", props);
  AddonData::Get(env)->imageCtor = Napi::Persistent(ctor);
  exports.Set("Image", ctor);
  exports.Set("openImage", Napi::Function::New(env, &Image::Open, "openImage"));
}

void Image::AddCoreMethods(Props& props) {
  props.push_back(InstanceMethod<&Image::Close>("close"));
  props.push_back(InstanceMethod<&Image::Stat>("stat"));
  props.push_back(InstanceMethod<&Image::Size>("size"));
  props.push_back(InstanceMethod<&Image::Resize>("resize"));
  props.push_back(InstanceMethod<&Image::Features>("features"));
  props.push_back(InstanceMethod<&Image::UpdateFeatures>("updateFeatures"));
  props.push_back(InstanceMethod<&Image::OpFeatures>("opFeatures"));
  props.push_back(InstanceMethod<&Image::Flags>("flags"));
  props.push_back(InstanceMethod<&Image::Id>("id"));
  props.push_back(InstanceMethod<&Image::BlockNamePrefix>("blockNamePrefix"));
  props.push_back(InstanceMethod<&Image::StripeUnit>("stripeUnit"));
  props.push_back(InstanceMethod<&Image::StripeCount>("stripeCount"));
  props.push_back(InstanceMethod<&Image::DataPoolId>("dataPoolId"));
  props.push_back(InstanceMethod<&Image::Timestamps>("timestamps"));
  props.push_back(InstanceAccessor<&Image::GetName>("name"));
  props.push_back(InstanceAccessor<&Image::GetPool>("pool"));
  props.push_back(InstanceAccessor<&Image::GetSnapName>("snapshot"));
  props.push_back(InstanceAccessor<&Image::GetReadOnly>("readOnly"));
  props.push_back(InstanceAccessor<&Image::GetState>("state"));
}

namespace {
struct ImagePayload {
  IoCtx* ioctx;
  rbd_image_t image;
  std::shared_ptr<ImageBounds> bounds;
  std::string name;
  std::string snap;
  bool readOnly;
};
// What the open worker hands to the JS thread.
struct OpenedImage {
  rbd_image_t image = nullptr;
  std::shared_ptr<ImageBounds> bounds;
};
}  // namespace

// rados_osd_op_timeout of the image's connection in ms (0 = none). Read
// once, at open: librados applies it when it connects, not later.
// rados_ioctx_get_cluster, rados_conf_get: in-memory, do not block.
static int64_t OpTimeoutMs(rados_ioctx_t io) {
  char value[64] = {0};
  if (rados_conf_get(rados_ioctx_get_cluster(io), "rados_osd_op_timeout", value, sizeof(value)) != 0) return 0;
  char* end = nullptr;
  double seconds = strtod(value, &end);
  return end != value && seconds > 0 && seconds < 1e9 ? static_cast<int64_t>(seconds * 1000) : 0;
}

Image* Image::FromValue(Napi::Env env, Napi::Value v) {
  return UnwrapTagged<Image>(env, v, kImageTag, "Image");
}

Image::Image(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Image>(info), Handle(info.Env(), "image") {
  if (!IsFromAddon(info)) {
    throw Napi::TypeError::New(info.Env(), "Image cannot be constructed directly; use Image.open()");
  }
  std::unique_ptr<ImagePayload> p(info[1].As<Napi::External<ImagePayload>>().Data());
  image_ = p->image;
  bounds_ = std::move(p->bounds);
  pool_ = p->ioctx->pool();
  ns_ = p->ioctx->nspace();
  name_ = p->name;
  snap_ = p->snap;
  readOnly_ = p->readOnly;
  opTimeoutMs_ = OpTimeoutMs(p->ioctx->io());
  parentRef_ = Napi::Persistent(p->ioctx->JsObject());
  TagObject(info.Env(), Value(), kImageTag);
  AttachTo(p->ioctx);
}

Image::~Image() { ForgetOnCollect(); }

std::function<void()> Image::TakeRelease() {
  rbd_image_t image = image_;
  image_ = nullptr;
  if (image == nullptr) return nullptr;
  std::vector<std::function<void(rbd_image_t)>> unwatch;
  for (auto& hook : watchHooks_) unwatch.push_back(hook.second.unwatch);
  return [image, unwatch, bounds = bounds_] {
    for (auto& fn : unwatch) fn(image);  // watches first: no callback after close
    bounds->Unwatch(image);
    rbd_close(image);  // Implements: rbd_close
  };
}

ErrorContext Image::Ctx(const char* op) const {
  ErrorContext ctx;
  ctx.op = op;
  ctx.family = "rbd";
  ctx.pool = pool_;
  ctx.nspace = ns_;
  ctx.image = name_;
  ctx.snapshot = snap_;
  if (!readOnly_ && opTimeoutMs_ > 0) {
    ctx.lockTimeoutMs = opTimeoutMs_;
    ctx.started = std::chrono::steady_clock::now();
  }
  return ctx;
}

ErrorContext Image::SnapCtx(const char* op, const std::string& snap) const {
  ErrorContext ctx = Ctx(op);
  ctx.snapshot = snap;
  return ctx;
}

// Implements: rbd_open, rbd_open_read_only, rbd_open_by_id, rbd_open_by_id_read_only
Napi::Value Image::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  bool readOnly = false;
  bool byId = false;
  std::string snap;
  if (info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    readOnly = o.Get("readOnly").ToBoolean().Value();
    byId = o.Get("byId").ToBoolean().Value();
    Napi::Value s = o.Get("snapshot");
    if (s.IsString()) snap = s.As<Napi::String>().Utf8Value();
  }
  ErrorContext ctx = ioctx->Ctx("Image.open", "rbd");
  ctx.image = name;
  ctx.snapshot = snap;
  rados_ioctx_t io = ioctx->io();
  return RunAsync<OpenedImage>(
      env, ioctx, ctx,
      [io, name, snap, readOnly, byId](OpenedImage& out) {
        const char* s = snap.empty() ? nullptr : snap.c_str();
        rbd_image_t& image = out.image;
        int rc;
        if (byId) {
          rc = readOnly ? rbd_open_by_id_read_only(io, name.c_str(), &image, s)
                        : rbd_open_by_id(io, name.c_str(), &image, s);
        } else {
          rc = readOnly ? rbd_open_read_only(io, name.c_str(), &image, s) : rbd_open(io, name.c_str(), &image, s);
        }
        if (rc == 0) out.bounds = readOnly || s != nullptr ? ImageBounds::Unwatched() : ImageBounds::Watch(image);
        return rc;
      },
      [ioctx, name, snap, readOnly, byId](Napi::Env env, OpenedImage& opened) -> Napi::Value {
        rbd_image_t image = opened.image;
        std::string display = name;
        if (byId) {
          // Implements: rbd_get_name (local metadata; does not block)
          std::vector<char> buf;
          if (GrowAndRetry(buf, 128, [image](char* d, size_t* len) { return rbd_get_name(image, d, len); }) == 0) {
            display.assign(buf.data());
          }
        }
        auto* payload = new ImagePayload{ioctx, image, std::move(opened.bounds), display, snap, readOnly};
        return NewFromAddon(env, AddonData::Get(env)->imageCtor, payload);
      });
}

Napi::Value Image::Close(const Napi::CallbackInfo& info) { return CloseHandle(info.Env(), this); }

// Implements: rbd_stat, rbd_get_block_name_prefix
Napi::Value Image::Stat(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<rbd_image_info_t>(
      info.Env(), this, Ctx("Image.stat"),
      [img](rbd_image_info_t& out) { return rbd_stat(img, &out, sizeof(out)); },
      [](Napi::Env env, rbd_image_info_t& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("size", Napi::Number::New(env, static_cast<double>(s.size)));
        o.Set("objSize", Napi::Number::New(env, static_cast<double>(s.obj_size)));
        o.Set("numObjs", Napi::Number::New(env, static_cast<double>(s.num_objs)));
        o.Set("order", Napi::Number::New(env, s.order));
        o.Set("blockNamePrefix", Napi::String::New(env, s.block_name_prefix));
        o.Set("parentPool", Napi::Number::New(env, static_cast<double>(s.parent_pool)));
        o.Set("parentName", Napi::String::New(env, s.parent_name));
        return o;
      });
}

// Runs a getter that fills one uint64_t, resolving it as a Number.
static Napi::Promise U64Getter(Napi::Env env, Image* self, const char* op,
                               int (*getter)(rbd_image_t, uint64_t*)) {
  rbd_image_t img = self->image();
  return RunAsync<uint64_t>(
      env, self, self->Ctx(op), [img, getter](uint64_t& out) { return getter(img, &out); },
      [](Napi::Env env, uint64_t& v) { return Napi::Number::New(env, static_cast<double>(v)); });
}

// Implements: rbd_get_size
Napi::Value Image::Size(const Napi::CallbackInfo& info) { return U64Getter(info.Env(), this, "Image.size", rbd_get_size); }
// Implements: rbd_get_features
Napi::Value Image::Features(const Napi::CallbackInfo& info) {
  return U64Getter(info.Env(), this, "Image.features", rbd_get_features);
}
// Implements: rbd_get_op_features
Napi::Value Image::OpFeatures(const Napi::CallbackInfo& info) {
  return U64Getter(info.Env(), this, "Image.opFeatures", rbd_get_op_features);
}
// Implements: rbd_get_flags
Napi::Value Image::Flags(const Napi::CallbackInfo& info) { return U64Getter(info.Env(), this, "Image.flags", rbd_get_flags); }
// Implements: rbd_get_stripe_unit
Napi::Value Image::StripeUnit(const Napi::CallbackInfo& info) {
  return U64Getter(info.Env(), this, "Image.stripeUnit", rbd_get_stripe_unit);
}
// Implements: rbd_get_stripe_count
Napi::Value Image::StripeCount(const Napi::CallbackInfo& info) {
  return U64Getter(info.Env(), this, "Image.stripeCount", rbd_get_stripe_count);
}

// Implements: rbd_get_data_pool_id
Napi::Value Image::DataPoolId(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsyncCount(info.Env(), this, Ctx("Image.dataPoolId"), [img]() -> int64_t { return rbd_get_data_pool_id(img); });
}

// Implements: rbd_resize, rbd_resize_with_progress (shrinking allowed, as python-rbd's default)
Napi::Value Image::Resize(const Napi::CallbackInfo& info) {
  uint64_t size = ArgU64(info, 0, "size");
  rbd_image_t img = image_;
  return RunPlainOrProgress(
      info.Env(), this, Ctx("Image.resize"), info[1], info[2],
      [img, bounds = bounds_, size] {
        int rc = rbd_resize(img, size);
        bounds->Invalidate();
        return rc;
      },
      [img, bounds = bounds_, size](librbd_progress_fn_t fn, void* arg) {
        int rc = rbd_resize_with_progress(img, size, fn, arg);
        bounds->Invalidate();
        return rc;
      });
}

// Implements: rbd_update_features
Napi::Value Image::UpdateFeatures(const Napi::CallbackInfo& info) {
  uint64_t mask = ArgU64(info, 0, "features");
  bool enabled = ArgBool(info, 1);
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.updateFeatures"),
                      [img, mask, enabled] { return rbd_update_features(img, mask, enabled ? 1 : 0); });
}

// Implements: rbd_get_id
Napi::Value Image::Id(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<std::string>(
      info.Env(), this, Ctx("Image.id"),
      [img](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 64, [img](char* d, size_t* len) { return rbd_get_id(img, d, *len); });
        if (rc == 0) out.assign(buf.data());
        return rc;
      },
      [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

// Implements: rbd_get_block_name_prefix
Napi::Value Image::BlockNamePrefix(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<std::string>(
      info.Env(), this, Ctx("Image.blockNamePrefix"),
      [img](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 64, [img](char* d, size_t* len) { return rbd_get_block_name_prefix(img, d, *len); });
        if (rc == 0) out.assign(buf.data());
        return rc;
      },
      [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

namespace {
struct Stamps {
  timespec create{}, access{}, modify{};
};
double Ms(const timespec& t) { return static_cast<double>(t.tv_sec) * 1000.0 + t.tv_nsec / 1e6; }
}  // namespace

// Implements: rbd_get_create_timestamp, rbd_get_access_timestamp, rbd_get_modify_timestamp
Napi::Value Image::Timestamps(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<Stamps>(
      info.Env(), this, Ctx("Image.timestamps"),
      [img](Stamps& out) {
        int rc = rbd_get_create_timestamp(img, &out.create);
        if (rc == 0) rc = rbd_get_access_timestamp(img, &out.access);
        if (rc == 0) rc = rbd_get_modify_timestamp(img, &out.modify);
        return rc;
      },
      [](Napi::Env env, Stamps& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("createdMs", Ms(s.create));
        o.Set("accessedMs", Ms(s.access));
        o.Set("modifiedMs", Ms(s.modify));
        return o;
      });
}

Napi::Value Image::GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
Napi::Value Image::GetPool(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), pool_); }
Napi::Value Image::GetSnapName(const Napi::CallbackInfo& info) {
  return snap_.empty() ? info.Env().Null() : Napi::String::New(info.Env(), snap_);
}
Napi::Value Image::GetReadOnly(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), readOnly_); }
Napi::Value Image::GetState(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), StateName()); }

}  // namespace cephrbd
