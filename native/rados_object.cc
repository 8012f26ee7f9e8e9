// IoCtx object operations: data (write/read/append/remove/stat), extended
// attributes, omap, and listing the objects of the context's namespace.
//
// Every call runs on a worker (RunAsync*). Strings and omap values are copied
// into plain C++ before the worker starts; the data Buffers of write/append/
// read are pinned instead (no copy) until the call settles. Every librados
// op, iterator and list handle is owned by an RAII guard, so each early
// return still releases it.
#include <cerrno>
#include <climits>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "common/args.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"

namespace cephrbd {

void AddObjectMethods(IoCtx::Props& props) {
  props.push_back(IoCtx::InstanceMethod<&IoCtx::Write>("write"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::WriteFull>("writeFull"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::Append>("append"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::Read>("read"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::Remove>("remove"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::StatObject>("stat"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::GetXattr>("getXattr"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::SetXattr>("setXattr"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::RmXattr>("rmXattr"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::ListXattrs>("listXattrs"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::OmapSet>("omapSet"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::OmapGet>("omapGet"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::OmapRemove>("omapRemove"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::OmapClear>("omapClear"));
  props.push_back(IoCtx::InstanceMethod<&IoCtx::ListObjects>("listObjects"));
}

namespace {

// Owns one librados handle (all are void* typedefs) and releases it with
// `Release` when the scope ends, whatever path leaves it.
template <void (*Release)(void*)>
class Owned {
 public:
  Owned() = default;
  explicit Owned(void* handle) : handle_(handle) {}
  ~Owned() {
    if (handle_ != nullptr) Release(handle_);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;

  void* get() const { return handle_; }
  void** out() { return &handle_; }

 private:
  void* handle_ = nullptr;
};

using WriteOp = Owned<rados_release_write_op>;
using ReadOp = Owned<rados_release_read_op>;
using OmapIter = Owned<rados_omap_get_end>;
using XattrIter = Owned<rados_getxattrs_end>;
using ObjectList = Owned<rados_nobjects_list_close>;

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct ObjectStat {
  uint64_t size = 0;
  time_t mtime = 0;
};

struct ListedObject {
  std::string nspace;
  std::string oid;
  std::string locator;
};

ErrorContext ObjectCtx(const IoCtx& io, const char* op, const std::string& oid) {
  ErrorContext ctx = io.Ctx(op);
  ctx.object = oid;
  return ctx;
}

// (pointer, length) from librados, where a null pointer means empty.
std::string Bytes(const char* data, size_t len) {
  return data == nullptr ? std::string() : std::string(data, len);
}

// Array argument i, each element copied out through `convert` (which throws
// `expected` as a TypeError for an element of the wrong kind).
template <typename Convert>
std::vector<std::string> ArgArrayOf(const Napi::CallbackInfo& info, size_t i, const std::string& expected,
                                    Convert convert) {
  if (!info[i].IsArray()) ThrowType(info.Env(), expected);
  Napi::Array arr = info[i].As<Napi::Array>();
  uint32_t n = arr.Length();
  std::vector<std::string> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; ++k) out.push_back(convert(arr.Get(k)));
  return out;
}

// An array of strings (omap keys), copied; NUL is refused like ArgString.
std::vector<std::string> ArgStringArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  const std::string expected = std::string("Expected an array of strings for ") + name;
  return ArgArrayOf(info, i, expected, [&](Napi::Value v) {
    if (!v.IsString()) ThrowType(env, expected);
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) ThrowType(env, std::string(name) + " must not contain NUL characters");
    return s;
  });
}

// An array of Buffers (omap values), copied: the JS array could be changed
// while the worker runs, so its elements cannot simply be pinned.
std::vector<std::string> ArgBufferArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  const std::string expected = std::string("Expected an array of Buffers for ") + name;
  return ArgArrayOf(info, i, expected, [&](Napi::Value v) {
    if (!v.IsBuffer()) ThrowType(env, expected);
    auto b = v.As<Napi::Buffer<char>>();
    return Bytes(b.Data(), b.Length());
  });
}

Napi::Value PairsToArray(Napi::Env env, const Pairs& pairs) {
  Napi::Array arr = Napi::Array::New(env, pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, pairs[k].first));
    pair.Set(1u, Napi::Buffer<char>::Copy(env, pairs[k].second.data(), pairs[k].second.size()));
    arr.Set(static_cast<uint32_t>(k), pair);
  }
  return arr;
}

// Pointer and length arrays over `strings`, for the *2 omap calls.
void Spans(const std::vector<std::string>& strings, std::vector<const char*>* ptrs,
           std::vector<size_t>* lens) {
  ptrs->reserve(strings.size());
  lens->reserve(strings.size());
  for (const std::string& s : strings) {
    ptrs->push_back(s.c_str());
    lens->push_back(s.size());
  }
}

// Runs a write op built by `build` on `oid`, releasing it on every path.
// Implements: rados_create_write_op, rados_write_op_operate, rados_release_write_op
template <typename Build>
int OperateWrite(rados_ioctx_t io, const std::string& oid, Build build) {
  WriteOp op(rados_create_write_op());
  if (op.get() == nullptr) return -ENOMEM;
  build(op.get());
  return rados_write_op_operate(op.get(), io, oid.c_str(), nullptr, LIBRADOS_OPERATION_NOFLAG);
}

// The (oid, data[, offset]) writes: `write(io, oid, data, len, offset)`
// runs on a worker with the Buffer pinned, not copied.
template <typename Write>
Napi::Value RunObjectWrite(const Napi::CallbackInfo& info, IoCtx* self, const char* op, bool withOffset, Write write) {
  std::string oid = ArgString(info, 0, "oid");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "data");
  uint64_t offset = withOffset ? ArgU64(info, 2, "offset") : 0;
  rados_ioctx_t io = self->io();
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return RunAsyncVoid(
      info.Env(), self, ObjectCtx(*self, op, oid),
      [io, oid, data, len, offset, write] { return write(io, oid.c_str(), data, len, offset); }, {buf});
}

}  // namespace

// write(oid, data, offset)
// Implements: rados_write
Napi::Value IoCtx::Write(const Napi::CallbackInfo& info) {
  return RunObjectWrite(info, this, "IoCtx.write", true,
                        [](rados_ioctx_t io, const char* oid, const char* data, size_t len, uint64_t offset) {
                          return rados_write(io, oid, data, len, offset);
                        });
}

// writeFull(oid, data): replaces the object's contents.
// Implements: rados_write_full
Napi::Value IoCtx::WriteFull(const Napi::CallbackInfo& info) {
  return RunObjectWrite(info, this, "IoCtx.writeFull", false,
                        [](rados_ioctx_t io, const char* oid, const char* data, size_t len, uint64_t) {
                          return rados_write_full(io, oid, data, len);
                        });
}

// append(oid, data)
// Implements: rados_append
Napi::Value IoCtx::Append(const Napi::CallbackInfo& info) {
  return RunObjectWrite(info, this, "IoCtx.append", false,
                        [](rados_ioctx_t io, const char* oid, const char* data, size_t len, uint64_t) {
                          return rados_append(io, oid, data, len);
                        });
}

// read(oid, buffer, offset) -> bytes read into `buffer` (fewer at the end of
// the object). rados_read answers an int, so a read asks for at most INT_MAX
// bytes (RADOS objects are far smaller; a short read is part of the contract).
// Implements: rados_read
Napi::Value IoCtx::Read(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "buffer");
  uint64_t offset = ArgU64(info, 2, "offset");
  rados_ioctx_t io = io_;
  char* data = reinterpret_cast<char*>(buf.Data());
  size_t len = buf.Length() > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(INT_MAX) : buf.Length();
  return RunAsyncCount(
      info.Env(), this, ObjectCtx(*this, "IoCtx.read", oid),
      [io, oid, data, len, offset]() -> int64_t { return rados_read(io, oid.c_str(), data, len, offset); },
      {buf});
}

// Implements: rados_remove
Napi::Value IoCtx::Remove(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  rados_ioctx_t io = io_;
  return RunAsyncVoid(info.Env(), this, ObjectCtx(*this, "IoCtx.remove", oid),
                      [io, oid] { return rados_remove(io, oid.c_str()); });
}

// stat(oid) -> { size, mtimeMs }. librados (Pacific) reports whole seconds.
// Implements: rados_stat
Napi::Value IoCtx::StatObject(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  rados_ioctx_t io = io_;
  return RunAsync<ObjectStat>(
      info.Env(), this, ObjectCtx(*this, "IoCtx.stat", oid),
      [io, oid](ObjectStat& out) { return rados_stat(io, oid.c_str(), &out.size, &out.mtime); },
      [](Napi::Env env, ObjectStat& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("size", Napi::Number::New(env, static_cast<double>(s.size)));
        o.Set("mtimeMs", Napi::Number::New(env, static_cast<double>(s.mtime) * 1000.0));
        return o;
      });
}

// getXattr(oid, name) -> Buffer. rados_getxattr answers -ERANGE (without the
// size it needs) when the buffer is too small: grow and retry.
// Implements: rados_getxattr
Napi::Value IoCtx::GetXattr(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = io_;
  return RunAsync<std::vector<char>>(
      info.Env(), this, ObjectCtx(*this, "IoCtx.getXattr", oid),
      [io, oid, name](std::vector<char>& out) {
        int rc = GrowAndRetry(out, 4096, [&](char* data, size_t* len) {
          return rados_getxattr(io, oid.c_str(), name.c_str(), data, *len);
        });
        if (rc < 0) return rc;
        out.resize(static_cast<size_t>(rc));
        return 0;
      },
      [](Napi::Env env, std::vector<char>& value) -> Napi::Value {
        return Napi::Buffer<char>::Copy(env, value.data(), value.size());
      });
}

// setXattr(oid, name, value): the value is pinned, not copied.
// Implements: rados_setxattr
Napi::Value IoCtx::SetXattr(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::string name = ArgString(info, 1, "name");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 2, "value");
  rados_ioctx_t io = io_;
  const char* data = reinterpret_cast<const char*>(buf.Data());
  size_t len = buf.Length();
  return RunAsyncVoid(
      info.Env(), this, ObjectCtx(*this, "IoCtx.setXattr", oid),
      [io, oid, name, data, len] { return rados_setxattr(io, oid.c_str(), name.c_str(), data, len); },
      {buf});
}

// Implements: rados_rmxattr
Napi::Value IoCtx::RmXattr(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = io_;
  return RunAsyncVoid(info.Env(), this, ObjectCtx(*this, "IoCtx.rmXattr", oid),
                      [io, oid, name] { return rados_rmxattr(io, oid.c_str(), name.c_str()); });
}

// listXattrs(oid) -> [[name, Buffer], ...]
// Implements: rados_getxattrs, rados_getxattrs_next, rados_getxattrs_end
Napi::Value IoCtx::ListXattrs(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  rados_ioctx_t io = io_;
  return RunAsync<Pairs>(
      info.Env(), this, ObjectCtx(*this, "IoCtx.listXattrs", oid),
      [io, oid](Pairs& out) {
        XattrIter iter;
        int rc = rados_getxattrs(io, oid.c_str(), iter.out());
        if (rc < 0) return rc;
        for (;;) {
          const char* name = nullptr;
          const char* val = nullptr;
          size_t len = 0;
          rc = rados_getxattrs_next(iter.get(), &name, &val, &len);
          if (rc < 0) return rc;
          if (name == nullptr) return 0;
          out.emplace_back(std::string(name), Bytes(val, len));
        }
      },
      [](Napi::Env env, Pairs& pairs) { return PairsToArray(env, pairs); });
}

// omapSet(oid, keys, values): one atomic write op; creates the object if needed.
// Implements: rados_create_write_op, rados_write_op_omap_set2, rados_write_op_operate,
// rados_release_write_op
Napi::Value IoCtx::OmapSet(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::vector<std::string> keys = ArgStringArray(info, 1, "keys");
  std::vector<std::string> values = ArgBufferArray(info, 2, "values");
  if (keys.size() != values.size()) {
    ThrowType(info.Env(), "Expected as many values as keys for omapSet (" + std::to_string(keys.size()) +
                              " keys, " + std::to_string(values.size()) + " values)");
  }
  rados_ioctx_t io = io_;
  return RunAsyncVoid(info.Env(), this, ObjectCtx(*this, "IoCtx.omapSet", oid),
                      [io, oid, keys = std::move(keys), values = std::move(values)] {
                        std::vector<const char*> keyPtrs, valPtrs;
                        std::vector<size_t> keyLens, valLens;
                        Spans(keys, &keyPtrs, &keyLens);
                        Spans(values, &valPtrs, &valLens);
                        return OperateWrite(io, oid, [&](rados_write_op_t op) {
                          rados_write_op_omap_set2(op, keyPtrs.data(), valPtrs.data(), keyLens.data(),
                                                   valLens.data(), keys.size());
                        });
                      });
}

// omapGet(oid, startAfter, filterPrefix, maxReturn) -> [[key, Buffer], ...]
// sorted by key. The OSD caps one request (osd_max_omap_entries_per_request,
// osd_max_omap_bytes_per_request) and says so with `more`: keep reading after
// the last key until maxReturn entries or the end.
// Implements: rados_create_read_op, rados_read_op_omap_get_vals2, rados_read_op_operate,
// rados_omap_get_next2, rados_omap_get_end, rados_release_read_op
Napi::Value IoCtx::OmapGet(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::string startAfter = ArgOptString(info, 1, "startAfter");
  std::string prefix = ArgOptString(info, 2, "filterPrefix");
  uint64_t maxReturn = ArgU64(info, 3, "maxReturn");
  rados_ioctx_t io = io_;
  return RunAsync<Pairs>(
      info.Env(), this, ObjectCtx(*this, "IoCtx.omapGet", oid),
      [io, oid, startAfter, prefix, maxReturn](Pairs& out) {
        std::string after = startAfter;
        uint64_t left = maxReturn;
        for (;;) {
          unsigned char more = 0;
          int prval = 0;
          // Declared before the op so the op is released first.
          OmapIter iter;
          ReadOp op(rados_create_read_op());
          if (op.get() == nullptr) return -ENOMEM;
          rados_read_op_omap_get_vals2(op.get(), after.c_str(), prefix.c_str(), left, iter.out(), &more,
                                       &prval);
          int rc = rados_read_op_operate(op.get(), io, oid.c_str(), LIBRADOS_OPERATION_NOFLAG);
          if (rc < 0) return rc;
          if (prval < 0) return prval;
          uint64_t got = 0;
          for (;;) {
            char* key = nullptr;
            char* val = nullptr;
            size_t keyLen = 0;
            size_t valLen = 0;
            rc = rados_omap_get_next2(iter.get(), &key, &val, &keyLen, &valLen);
            if (rc < 0) return rc;
            if (key == nullptr) break;
            out.emplace_back(Bytes(key, keyLen), Bytes(val, valLen));
            ++got;
          }
          if (!more || got == 0 || got >= left) return 0;
          left -= got;
          after = out.back().first;
          // A key with NUL (written by another client) cannot be a start_after.
          if (after.find('\0') != std::string::npos) return 0;
        }
      },
      [](Napi::Env env, Pairs& pairs) { return PairsToArray(env, pairs); });
}

// omapRemove(oid, keys)
// Implements: rados_create_write_op, rados_write_op_omap_rm_keys2, rados_write_op_operate,
// rados_release_write_op
Napi::Value IoCtx::OmapRemove(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  std::vector<std::string> keys = ArgStringArray(info, 1, "keys");
  rados_ioctx_t io = io_;
  return RunAsyncVoid(info.Env(), this, ObjectCtx(*this, "IoCtx.omapRemove", oid),
                      [io, oid, keys = std::move(keys)] {
                        std::vector<const char*> keyPtrs;
                        std::vector<size_t> keyLens;
                        Spans(keys, &keyPtrs, &keyLens);
                        return OperateWrite(io, oid, [&](rados_write_op_t op) {
                          rados_write_op_omap_rm_keys2(op, keyPtrs.data(), keyLens.data(), keys.size());
                        });
                      });
}

// omapClear(oid): removes every omap entry.
// Implements: rados_create_write_op, rados_write_op_omap_clear, rados_write_op_operate,
// rados_release_write_op
Napi::Value IoCtx::OmapClear(const Napi::CallbackInfo& info) {
  std::string oid = ArgString(info, 0, "oid");
  rados_ioctx_t io = io_;
  return RunAsyncVoid(info.Env(), this, ObjectCtx(*this, "IoCtx.omapClear", oid), [io, oid] {
    return OperateWrite(io, oid, [](rados_write_op_t op) { rados_write_op_omap_clear(op); });
  });
}

// listObjects() -> [{ namespace, oid, locator }] for this context's namespace.
// Implements: rados_nobjects_list_open, rados_nobjects_list_next2, rados_nobjects_list_close
Napi::Value IoCtx::ListObjects(const Napi::CallbackInfo& info) {
  rados_ioctx_t io = io_;
  return RunAsync<std::vector<ListedObject>>(
      info.Env(), this, Ctx("IoCtx.listObjects"),
      [io](std::vector<ListedObject>& out) {
        ObjectList list;
        int rc = rados_nobjects_list_open(io, list.out());
        if (rc < 0) return rc;
        for (;;) {
          const char* entry = nullptr;
          const char* key = nullptr;
          const char* nspace = nullptr;
          size_t entryLen = 0;
          size_t keyLen = 0;
          size_t nspaceLen = 0;
          rc = rados_nobjects_list_next2(list.get(), &entry, &key, &nspace, &entryLen, &keyLen, &nspaceLen);
          if (rc == -ENOENT) return 0;  // the end of the listing
          if (rc < 0) return rc;
          out.push_back(ListedObject{Bytes(nspace, nspaceLen), Bytes(entry, entryLen), Bytes(key, keyLen)});
        }
      },
      [](Napi::Env env, std::vector<ListedObject>& objects) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, objects.size());
        for (size_t k = 0; k < objects.size(); ++k) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("namespace", Napi::String::New(env, objects[k].nspace));
          o.Set("oid", Napi::String::New(env, objects[k].oid));
          o.Set("locator", Napi::String::New(env, objects[k].locator));
          arr.Set(static_cast<uint32_t>(k), o);
        }
        return arr;
      });
}

}  // namespace cephrbd
