// ImageOptions: rbd_image_options_t as a JS object (go-ceph's ImageOptions),
// for reading back what librbd stores for each RBD_IMAGE_OPTION_* key.
// Every call is in memory (no I/O), so the methods are synchronous; errors
// (wrong type for the key, unknown key) are RbdErrors with their errno.
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/args.h"
#include "common/errors.h"
#include "rbd_ext.h"

namespace cephrbd {

namespace {

class ImageOptionsWrap : public Napi::ObjectWrap<ImageOptionsWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ImageOptions",
                       {InstanceMethod<&ImageOptionsWrap::SetUint64>("setUint64"),
                        InstanceMethod<&ImageOptionsWrap::SetString>("setString"),
                        InstanceMethod<&ImageOptionsWrap::GetUint64>("getUint64"),
                        InstanceMethod<&ImageOptionsWrap::GetString>("getString"),
                        InstanceMethod<&ImageOptionsWrap::IsSet>("isSet"),
                        InstanceMethod<&ImageOptionsWrap::Unset>("unset"),
                        InstanceMethod<&ImageOptionsWrap::Clear>("clear"),
                        InstanceMethod<&ImageOptionsWrap::IsEmpty>("isEmpty")});
  }

  // Implements: rbd_image_options_create
  explicit ImageOptionsWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ImageOptionsWrap>(info) {
    rbd_image_options_create(&opts_);
  }
  // Implements: rbd_image_options_destroy
  ~ImageOptionsWrap() override { rbd_image_options_destroy(opts_); }

 private:
  static int Key(const Napi::CallbackInfo& info) {
    if (!info[0].IsNumber()) ThrowType(info.Env(), "Expected a number for key");
    return info[0].As<Napi::Number>().Int32Value();
  }
  static void Check(Napi::Env env, int rc, const char* op) {
    if (rc >= 0) return;
    ErrorContext ctx;
    ctx.op = op;
    ctx.family = "rbd";
    throw Napi::Error(env, MakeCephError(env, rc, ctx));
  }

  // Implements: rbd_image_options_set_uint64
  Napi::Value SetUint64(const Napi::CallbackInfo& info) {
    int key = Key(info);
    uint64_t v = ArgU64(info, 1, "value");
    Check(info.Env(), rbd_image_options_set_uint64(opts_, key, v), "ImageOptions.setUint64");
    return info.Env().Undefined();
  }
  // Implements: rbd_image_options_set_string
  Napi::Value SetString(const Napi::CallbackInfo& info) {
    int key = Key(info);
    std::string v = ArgString(info, 1, "value");
    Check(info.Env(), rbd_image_options_set_string(opts_, key, v.c_str()), "ImageOptions.setString");
    return info.Env().Undefined();
  }
  // Implements: rbd_image_options_get_uint64
  Napi::Value GetUint64(const Napi::CallbackInfo& info) {
    uint64_t v = 0;
    Check(info.Env(), rbd_image_options_get_uint64(opts_, Key(info), &v), "ImageOptions.getUint64");
    return Napi::Number::New(info.Env(), static_cast<double>(v));
  }
  // Implements: rbd_image_options_get_string
  Napi::Value GetString(const Napi::CallbackInfo& info) {
    std::vector<char> buf(4096, '\0');
    Check(info.Env(), rbd_image_options_get_string(opts_, Key(info), buf.data(), buf.size()), "ImageOptions.getString");
    return Napi::String::New(info.Env(), buf.data(), strnlen(buf.data(), buf.size()));
  }
  // Implements: rbd_image_options_is_set
  Napi::Value IsSet(const Napi::CallbackInfo& info) {
    bool set = false;
    Check(info.Env(), rbd_image_options_is_set(opts_, Key(info), &set), "ImageOptions.isSet");
    return Napi::Boolean::New(info.Env(), set);
  }
  // Implements: rbd_image_options_unset
  Napi::Value Unset(const Napi::CallbackInfo& info) {
    Check(info.Env(), rbd_image_options_unset(opts_, Key(info)), "ImageOptions.unset");
    return info.Env().Undefined();
  }
  // Implements: rbd_image_options_clear
  Napi::Value Clear(const Napi::CallbackInfo& info) {
    rbd_image_options_clear(opts_);
    return info.Env().Undefined();
  }
  // Implements: rbd_image_options_is_empty
  Napi::Value IsEmpty(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), rbd_image_options_is_empty(opts_) != 0);
  }

  rbd_image_options_t opts_ = nullptr;
};

}  // namespace

void AddImageOptionsClass(Napi::Env env, Napi::Object rbdx) { rbdx.Set("ImageOptions", ImageOptionsWrap::Define(env)); }

}  // namespace cephrbd
