// Image metadata (key/value pairs in the header), advisory and managed
// locks, watchers, object-map rebuild and sparsify.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/args.h"
#include "common/pairs.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

void Image::AddMetaMethods(Props& props) {
  props.push_back(InstanceMethod<&Image::MetadataGet>("metadataGet"));
  props.push_back(InstanceMethod<&Image::MetadataSet>("metadataSet"));
  props.push_back(InstanceMethod<&Image::MetadataRemove>("metadataRemove"));
  props.push_back(InstanceMethod<&Image::MetadataList>("metadataList"));
  props.push_back(InstanceMethod<&Image::ListLockers>("listLockers"));
  props.push_back(InstanceMethod<&Image::BreakLock>("breakLock"));
  props.push_back(InstanceMethod<&Image::LockAcquire>("lockAcquire"));
  props.push_back(InstanceMethod<&Image::LockRelease>("lockRelease"));
  props.push_back(InstanceMethod<&Image::LockGetOwners>("lockGetOwners"));
  props.push_back(InstanceMethod<&Image::LockBreak>("lockBreak"));
  props.push_back(InstanceMethod<&Image::IsExclusiveLockOwner>("isExclusiveLockOwner"));
  props.push_back(InstanceMethod<&Image::ListWatchers>("listWatchers"));
  props.push_back(InstanceMethod<&Image::RebuildObjectMap>("rebuildObjectMap"));
  props.push_back(InstanceMethod<&Image::Sparsify>("sparsify"));
}

namespace {

// Runs a librbd *_cleanup for `count` entries when the scope ends.
template <typename T, typename Cleanup>
class CleanupGuard {
 public:
  CleanupGuard(Cleanup cleanup, T* data, const size_t& count)
      : cleanup_(cleanup), data_(data), count_(count) {}
  ~CleanupGuard() {
    if (count_ > 0) cleanup_(data_, count_);
  }
  CleanupGuard(const CleanupGuard&) = delete;
  CleanupGuard& operator=(const CleanupGuard&) = delete;

 private:
  Cleanup cleanup_;
  T* data_;
  const size_t& count_;
};

// Splits the first `len` bytes of a "a\0b\0" buffer into its strings, empty
// ones included (unlike SplitNulList, which stops at the first empty name).
std::vector<std::string> SplitExact(const char* data, size_t len) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < len) {
    size_t n = strnlen(data + i, len - i);
    out.emplace_back(data + i, n);
    i += n + 1;
  }
  return out;
}

// rbd_lock_mode_t from a JS number: only the two modes librbd defines.
rbd_lock_mode_t ArgLockMode(const Napi::CallbackInfo& info, size_t i) {
  int64_t mode = ArgI64(info, i, "mode");
  if (mode != RBD_LOCK_MODE_EXCLUSIVE && mode != RBD_LOCK_MODE_SHARED) {
    throw Napi::RangeError::New(info.Env(), "mode must be RBD_LOCK_MODE_EXCLUSIVE or RBD_LOCK_MODE_SHARED");
  }
  return static_cast<rbd_lock_mode_t>(mode);
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Locker {
  std::string client;
  std::string cookie;
  std::string address;
};

struct Lockers {
  std::string tag;
  bool exclusive = false;
  std::vector<Locker> lockers;
};

struct LockOwners {
  int mode = -1;
  std::vector<std::string> owners;
};

struct Watcher {
  std::string address;
  int64_t id;
  uint64_t cookie;
};

// Keys per rbd_metadata_list call: bounds each reply (as python-rbd's 64).
constexpr uint64_t kMetadataPage = 64;

}  // namespace

// metadataGet(key) -> value. A missing key is -ENOENT, which the rbd family
// maps to ImageNotFound (as python-rbd does).
// Implements: rbd_metadata_get
Napi::Value Image::MetadataGet(const Napi::CallbackInfo& info) {
  std::string key = ArgString(info, 0, "key");
  rbd_image_t img = image_;
  return RunAsync<std::string>(
      info.Env(), this, Ctx("Image.metadataGet"),
      [img, key](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) {
          // Zero-filled, so the value is terminated even if librbd copies it
          // without a NUL (older releases did); -ERANGE reports the size wanted.
          std::memset(data, 0, *len);
          return rbd_metadata_get(img, key.c_str(), data, len);
        });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      [](Napi::Env env, std::string& value) { return Napi::String::New(env, value); });
}

// Implements: rbd_metadata_set
Napi::Value Image::MetadataSet(const Napi::CallbackInfo& info) {
  std::string key = ArgString(info, 0, "key");
  std::string value = ArgString(info, 1, "value");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.metadataSet"),
                      [img, key, value] { return rbd_metadata_set(img, key.c_str(), value.c_str()); });
}

// Implements: rbd_metadata_remove
Napi::Value Image::MetadataRemove(const Napi::CallbackInfo& info) {
  std::string key = ArgString(info, 0, "key");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.metadataRemove"),
                      [img, key] { return rbd_metadata_remove(img, key.c_str()); });
}

// metadataList() -> [[key, value], ...], every key in key order: pages of
// kMetadataPage keys, each page starting after the last key of the previous.
// Implements: rbd_metadata_list
Napi::Value Image::MetadataList(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<Pairs>(
      info.Env(), this, Ctx("Image.metadataList"),
      [img](Pairs& out) {
        std::string start;
        std::vector<char> keys;
        std::vector<char> vals(4096);
        for (;;) {
          size_t keyLen = 0;
          size_t valLen = 0;
          // One grow-and-retry over the keys buffer; the values buffer grows
          // alongside to the size librbd reports with the same -ERANGE.
          int rc = GrowAndRetry(keys, keys.empty() ? 1024 : keys.size(), [&](char* k, size_t* klen) {
            size_t vlen = vals.size();
            int r = rbd_metadata_list(img, start.c_str(), kMetadataPage, k, klen, vals.data(), &vlen);
            if (r == -ERANGE && vlen > vals.size()) vals.resize(vlen);
            keyLen = *klen;
            valLen = vlen;
            return r;
          });
          if (rc < 0) return rc;
          std::vector<std::string> ks = SplitExact(keys.data(), keyLen);
          std::vector<std::string> vs = SplitExact(vals.data(), valLen);
          if (ks.size() != vs.size()) return -EIO;  // a value with a NUL in it: not a C string
          for (size_t i = 0; i < ks.size(); ++i) out.emplace_back(std::move(ks[i]), std::move(vs[i]));
          if (ks.size() < kMetadataPage) return 0;
          start = out.back().first;
        }
      },
      [](Napi::Env env, Pairs& pairs) -> Napi::Value { return StringPairsToArray(env, pairs); });
}

// listLockers() -> { tag, exclusive, lockers: [{ client, cookie, address }] }
// Advisory (rbd lock add) locks, and the managed exclusive lock, which lives
// under the same lock name. No locks: { tag: '', exclusive: false, lockers: [] }.
// librbd answers from the lock state read at the image's last refresh (open,
// or a header update notification, which `rbd lock add` and breakLock send);
// taking the managed lock through this handle does not refresh it.
// Implements: rbd_list_lockers
Napi::Value Image::ListLockers(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<Lockers>(
      info.Env(), this, Ctx("Image.listLockers"),
      [img](Lockers& out) {
        std::vector<char> tag(64), clients, cookies(256), addrs(256);
        ssize_t count = 0;
        int exclusive = 0;
        size_t clientsLen = 0, cookiesLen = 0, addrsLen = 0;
        // Grow-and-retry over the clients buffer; the other three grow to
        // the sizes librbd reports with the same -ERANGE.
        int rc = GrowAndRetry(clients, 256, [&](char* c, size_t* clen) {
          size_t tagLen = tag.size();
          cookiesLen = cookies.size();
          addrsLen = addrs.size();
          ssize_t r = rbd_list_lockers(img, &exclusive, tag.data(), &tagLen, c, clen, cookies.data(),
                                       &cookiesLen, addrs.data(), &addrsLen);
          if (r == -ERANGE) {
            if (tagLen > tag.size()) tag.resize(tagLen);
            if (cookiesLen > cookies.size()) cookies.resize(cookiesLen);
            if (addrsLen > addrs.size()) addrs.resize(addrsLen);
          }
          clientsLen = *clen;
          if (r >= 0) count = r;
          return r < 0 ? static_cast<int>(r) : 0;
        });
        if (rc < 0) return rc;
        out.exclusive = exclusive != 0;
        out.tag.assign(tag.data(), strnlen(tag.data(), tag.size()));
        std::vector<std::string> cl = SplitExact(clients.data(), clientsLen);
        std::vector<std::string> co = SplitExact(cookies.data(), cookiesLen);
        std::vector<std::string> ad = SplitExact(addrs.data(), addrsLen);
        size_t n = static_cast<size_t>(count);
        if (cl.size() < n || co.size() < n || ad.size() < n) return -EIO;
        for (size_t i = 0; i < n; ++i) out.lockers.push_back({cl[i], co[i], ad[i]});
        return 0;
      },
      [](Napi::Env env, Lockers& l) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("tag", l.tag);
        o.Set("exclusive", l.exclusive);
        Napi::Array arr = Napi::Array::New(env, l.lockers.size());
        for (size_t i = 0; i < l.lockers.size(); ++i) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("client", l.lockers[i].client);
          e.Set("cookie", l.lockers[i].cookie);
          e.Set("address", l.lockers[i].address);
          arr.Set(static_cast<uint32_t>(i), e);
        }
        o.Set("lockers", arr);
        return o;
      });
}

// breakLock(client, cookie): releases another client's advisory lock
// (blocklisting it first when rbd_blocklist_on_break_lock is true, the default).
// Implements: rbd_break_lock
Napi::Value Image::BreakLock(const Napi::CallbackInfo& info) {
  std::string client = ArgString(info, 0, "client");
  std::string cookie = ArgString(info, 1, "cookie");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.breakLock"),
                      [img, client, cookie] { return rbd_break_lock(img, client.c_str(), cookie.c_str()); });
}

// lockAcquire(mode): takes the managed (exclusive-lock feature) lock and
// keeps it: librbd switches the image to its standard policy, so requests
// from other clients are refused until lockRelease().
// Implements: rbd_lock_acquire
Napi::Value Image::LockAcquire(const Napi::CallbackInfo& info) {
  rbd_lock_mode_t mode = ArgLockMode(info, 0);
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.lockAcquire"),
                      [img, mode] { return rbd_lock_acquire(img, mode); });
}

// Implements: rbd_lock_release
Napi::Value Image::LockRelease(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.lockRelease"), [img] { return rbd_lock_release(img); });
}

// lockGetOwners() -> { mode, owners }. When nobody holds the managed lock
// librbd answers -ENOENT; like python-rbd that is not an error here but
// { mode: -1, owners: [] } (-1: no mode, as no RBD_LOCK_MODE_* applies).
// Implements: rbd_lock_get_owners, rbd_lock_get_owners_cleanup
Napi::Value Image::LockGetOwners(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<LockOwners>(
      info.Env(), this, Ctx("Image.lockGetOwners"),
      [img](LockOwners& out) {
        std::vector<char*> owners;
        size_t count = 0;
        rbd_lock_mode_t mode = RBD_LOCK_MODE_EXCLUSIVE;
        int rc = GrowAndRetry(owners, 4, [&](char** data, size_t* len) {
          size_t n = *len;
          int r = rbd_lock_get_owners(img, &mode, data, &n);
          if (r == -ERANGE) *len = n;
          if (r >= 0) count = n;
          return r;
        });
        CleanupGuard<char*, void (*)(char**, size_t)> guard(rbd_lock_get_owners_cleanup, owners.data(),
                                                            count);
        if (rc == -ENOENT) return 0;
        if (rc < 0) return rc;
        if (count == 0) return 0;
        out.mode = mode;
        for (size_t i = 0; i < count; ++i) out.owners.emplace_back(owners[i] != nullptr ? owners[i] : "");
        return 0;
      },
      [](Napi::Env env, LockOwners& l) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("mode", l.mode);
        Napi::Array arr = Napi::Array::New(env, l.owners.size());
        for (size_t i = 0; i < l.owners.size(); ++i) arr.Set(static_cast<uint32_t>(i), l.owners[i]);
        o.Set("owners", arr);
        return o;
      });
}

// lockBreak(mode, owner): breaks the managed lock held by `owner` (an
// address from lockGetOwners), blocklisting it when
// rbd_blocklist_on_break_lock is true (the default).
// Implements: rbd_lock_break
Napi::Value Image::LockBreak(const Napi::CallbackInfo& info) {
  rbd_lock_mode_t mode = ArgLockMode(info, 0);
  std::string owner = ArgString(info, 1, "owner");
  rbd_image_t img = image_;
  return RunAsyncVoid(info.Env(), this, Ctx("Image.lockBreak"),
                      [img, mode, owner] { return rbd_lock_break(img, mode, owner.c_str()); });
}

// Implements: rbd_is_exclusive_lock_owner
Napi::Value Image::IsExclusiveLockOwner(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<int>(
      info.Env(), this, Ctx("Image.isExclusiveLockOwner"),
      [img](int& out) { return rbd_is_exclusive_lock_owner(img, &out); },
      [](Napi::Env env, int& owner) { return Napi::Boolean::New(env, owner != 0); });
}

// listWatchers() -> [{ address, id, cookie }]: the watches on the header.
// Implements: rbd_watchers_list, rbd_watchers_list_cleanup
Napi::Value Image::ListWatchers(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunAsync<std::vector<Watcher>>(
      info.Env(), this, Ctx("Image.listWatchers"),
      [img](std::vector<Watcher>& out) {
        std::vector<rbd_image_watcher_t> watchers;
        size_t count = 0;
        int rc = GrowAndRetry(watchers, 8, [&](rbd_image_watcher_t* data, size_t* len) {
          size_t n = *len;
          int r = rbd_watchers_list(img, data, &n);
          if (r == -ERANGE) *len = n;
          if (r >= 0) count = n;
          return r;
        });
        CleanupGuard<rbd_image_watcher_t, void (*)(rbd_image_watcher_t*, size_t)> guard(
            rbd_watchers_list_cleanup, watchers.data(), count);
        if (rc < 0) return rc;
        for (size_t i = 0; i < count; ++i) {
          const rbd_image_watcher_t& w = watchers[i];
          out.push_back({w.addr != nullptr ? w.addr : "", w.id, w.cookie});
        }
        return 0;
      },
      [](Napi::Env env, std::vector<Watcher>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("address", list[i].address);
          o.Set("id", Napi::Number::New(env, static_cast<double>(list[i].id)));
          o.Set("cookie", Napi::Number::New(env, static_cast<double>(list[i].cookie)));
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// rebuildObjectMap(onProgress?, cancel?)
// Implements: rbd_rebuild_object_map
Napi::Value Image::RebuildObjectMap(const Napi::CallbackInfo& info) {
  rbd_image_t img = image_;
  return RunWithProgress(info.Env(), this, Ctx("Image.rebuildObjectMap"), info[0], info[1],
                         [img](librbd_progress_fn_t fn, void* arg) {
                           return rbd_rebuild_object_map(img, fn, arg);
                         });
}

// sparsify(sparseSize, onProgress?, cancel?): deallocates zero-filled runs
// of at least sparseSize bytes (a power of two, 4 KiB..object size).
// Implements: rbd_sparsify, rbd_sparsify_with_progress
Napi::Value Image::Sparsify(const Napi::CallbackInfo& info) {
  uint64_t sparse = ArgU64(info, 0, "sparseSize");
  if (sparse > SIZE_MAX) throw Napi::RangeError::New(info.Env(), "sparseSize is out of range");
  size_t sparseSize = static_cast<size_t>(sparse);
  rbd_image_t img = image_;
  return RunPlainOrProgress(
      info.Env(), this, Ctx("Image.sparsify"), info[1], info[2],
      [img, sparseSize] { return rbd_sparsify(img, sparseSize); },
      [img, sparseSize](librbd_progress_fn_t fn, void* arg) {
        return rbd_sparsify_with_progress(img, sparseSize, fn, arg);
      });
}

}  // namespace cephrbd
