// Client-side encryption: format an image as LUKS1/LUKS2, or load its key
// so reads and writes through this handle are decrypted/encrypted.
#include <cstring>
#include <memory>
#include <vector>

#include "common/args.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

namespace {

// The passphrase, copied off the JS heap and wiped when the call is done.
struct Secret {
  std::vector<char> bytes;
  ~Secret() {
    if (!bytes.empty()) {
      volatile char* p = bytes.data();
      for (size_t i = 0; i < bytes.size(); ++i) p[i] = 0;
    }
  }
};

std::shared_ptr<Secret> ReadPassphrase(const Napi::CallbackInfo& info, size_t i) {
  auto secret = std::make_shared<Secret>();
  if (info[i].IsBuffer()) {
    auto buf = info[i].As<Napi::Buffer<char>>();
    secret->bytes.assign(buf.Data(), buf.Data() + buf.Length());
  } else if (info[i].IsString()) {
    std::string s = info[i].As<Napi::String>().Utf8Value();
    secret->bytes.assign(s.begin(), s.end());
    std::fill(s.begin(), s.end(), '\0');
  } else {
    ThrowType(info.Env(), "Expected a string or Buffer for passphrase");
  }
  return secret;
}

rbd_encryption_format_t ReadFormat(const Napi::CallbackInfo& info, size_t i) {
  uint32_t f = info[i].IsNumber() ? info[i].As<Napi::Number>().Uint32Value() : 99;
  if (f != RBD_ENCRYPTION_FORMAT_LUKS1 && f != RBD_ENCRYPTION_FORMAT_LUKS2) {
    throw Napi::RangeError::New(info.Env(), "format must be RBD_ENCRYPTION_FORMAT_LUKS1 or _LUKS2");
  }
  return static_cast<rbd_encryption_format_t>(f);
}

// LUKS1 and LUKS2 option structs have the same layout in Pacific.
int WithOptions(rbd_encryption_format_t format, uint32_t alg, const Secret& s,
                int (*fn)(rbd_image_t, rbd_encryption_format_t, rbd_encryption_options_t, size_t),
                rbd_image_t img) {
  if (format == RBD_ENCRYPTION_FORMAT_LUKS1) {
    rbd_encryption_luks1_format_options_t o{static_cast<rbd_encryption_algorithm_t>(alg), s.bytes.data(), s.bytes.size()};
    return fn(img, format, &o, sizeof(o));
  }
  rbd_encryption_luks2_format_options_t o{static_cast<rbd_encryption_algorithm_t>(alg), s.bytes.data(), s.bytes.size()};
  return fn(img, format, &o, sizeof(o));
}

}  // namespace

// encryptionFormat(image, format, passphrase, algorithm): writes a LUKS
// header at the start of the image; the handle then reads/writes through
// the new key (librbd offers no progress for this call).
// Implements: rbd_encryption_format
static Napi::Value EncryptionFormat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_encryption_format_t format = ReadFormat(info, 1);
  std::shared_ptr<Secret> secret = ReadPassphrase(info, 2);
  uint32_t alg = info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value()
                                    : static_cast<uint32_t>(RBD_ENCRYPTION_ALGORITHM_AES256);
  if (alg != RBD_ENCRYPTION_ALGORITHM_AES128 && alg != RBD_ENCRYPTION_ALGORITHM_AES256) {
    throw Napi::RangeError::New(env, "algorithm must be RBD_ENCRYPTION_ALGORITHM_AES128 or _AES256");
  }
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, image->Ctx("Image.encryptionFormat"), [img, format, secret, alg] {
    return WithOptions(format, alg, *secret, rbd_encryption_format, img);
  });
}

// encryptionLoad(image, format, passphrase): a wrong passphrase is EPERM.
// Implements: rbd_encryption_load
static Napi::Value EncryptionLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_encryption_format_t format = ReadFormat(info, 1);
  std::shared_ptr<Secret> secret = ReadPassphrase(info, 2);
  rbd_image_t img = image->image();
  return RunAsyncVoid(env, image, image->Ctx("Image.encryptionLoad"), [img, format, secret] {
    return WithOptions(format, RBD_ENCRYPTION_ALGORITHM_AES256, *secret, rbd_encryption_load, img);
  });
}

void AddEncryptionFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "encryptionFormat", EncryptionFormat);
  SetFn(env, rbdx, "encryptionLoad", EncryptionLoad);
}

}  // namespace cephrbd
