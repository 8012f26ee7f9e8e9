// Compound object operations (rados_write_op_t / rados_read_op_t): the JS
// builder (lib/rados-ops.ts) hands over its steps as [name, ...args] arrays;
// they are added to one librados op on the JS thread (adding only records:
// librados copies every input) and the op runs as one atomic OSD operation
// through the aio dispatcher. If any step fails (an assert, a compare, a
// missing object), none of the op's writes happen.
//
// The op and its out-values (prval, read buffers, omap/xattr iterators, exec
// output) live in a State owned by the operation until it settles.
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/aio.h"
#include "common/args.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

// --- argument readers for one step array ---------------------------------

struct Step {
  Napi::Env env;
  Napi::Array arr;
  std::string name;

  Napi::Value At(uint32_t i) const { return arr.Get(i); }
  std::string Str(uint32_t i, const char* what) const {
    Napi::Value v = At(i);
    if (!v.IsString()) ThrowType(env, std::string("Expected a string for ") + name + " " + what);
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) ThrowType(env, std::string(what) + " must not contain NUL characters");
    return s;
  }
  // Bytes of a Buffer (copied: the step arrays are read once, on this thread).
  std::string Bytes(uint32_t i, const char* what) const {
    Napi::Value v = At(i);
    if (!v.IsBuffer()) ThrowType(env, std::string("Expected a Buffer for ") + name + " " + what);
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  uint64_t U64(uint32_t i, const char* what) const { return ToU64(env, At(i), what); }
  std::vector<std::string> Strings(uint32_t i, const char* what) const {
    Napi::Value v = At(i);
    if (!v.IsArray()) ThrowType(env, std::string("Expected an array of strings for ") + name + " " + what);
    Napi::Array a = v.As<Napi::Array>();
    std::vector<std::string> out;
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value e = a.Get(k);
      if (!e.IsString()) ThrowType(env, std::string("Expected an array of strings for ") + name + " " + what);
      out.push_back(e.As<Napi::String>().Utf8Value());
      if (out.back().find('\0') != std::string::npos) ThrowType(env, std::string(what) + " must not contain NUL characters");
    }
    return out;
  }
  std::vector<std::string> Buffers(uint32_t i, const char* what) const {
    Napi::Value v = At(i);
    if (!v.IsArray()) ThrowType(env, std::string("Expected an array of Buffers for ") + name + " " + what);
    Napi::Array a = v.As<Napi::Array>();
    std::vector<std::string> out;
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value e = a.Get(k);
      if (!e.IsBuffer()) ThrowType(env, std::string("Expected an array of Buffers for ") + name + " " + what);
      auto b = e.As<Napi::Buffer<char>>();
      out.emplace_back(b.Data(), b.Length());
    }
    return out;
  }
  uint8_t CmpOp(uint32_t i) const {
    uint64_t op = U64(i, "comparison operator");
    if (op < LIBRADOS_CMPXATTR_OP_EQ || op > LIBRADOS_CMPXATTR_OP_LTE) {
      throw Napi::RangeError::New(env, "comparison operator must be one of LIBRADOS_CMPXATTR_OP_*");
    }
    return static_cast<uint8_t>(op);
  }
};

std::vector<Step> ReadSteps(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) ThrowType(env, "Expected an array of steps");
  Napi::Array steps = info[i].As<Napi::Array>();
  std::vector<Step> out;
  for (uint32_t k = 0; k < steps.Length(); ++k) {
    Napi::Value s = steps.Get(k);
    if (!s.IsArray() || !s.As<Napi::Array>().Get(0u).IsString()) ThrowType(env, "Expected [name, ...args] steps");
    Napi::Array arr = s.As<Napi::Array>();
    out.push_back(Step{env, arr, arr.Get(0u).As<Napi::String>().Utf8Value()});
  }
  return out;
}

// The first failing step's index on the error, so a caller sees which
// assert or compare stopped the operation.
Napi::Value StepError(Napi::Env env, int64_t rc, const ErrorContext& ctx, const std::deque<int>& prvals) {
  Napi::Value err = RadosErrorFor(env, rc, ctx);
  for (size_t k = 0; k < prvals.size(); ++k) {
    if (prvals[k] < 0 && err.IsObject()) {
      err.As<Napi::Object>().Set("step", Napi::Number::New(env, static_cast<double>(k)));
      break;
    }
  }
  return err;
}

// --- write ops ------------------------------------------------------------

struct WriteState {
  rados_write_op_t op = nullptr;
  std::deque<int> prvals;  // one per step (0 for steps without one)
  ~WriteState() {
    if (op != nullptr) rados_release_write_op(op);  // Implements: rados_release_write_op
  }
};

// Implements: rados_write_op_assert_exists, rados_write_op_assert_version,
// rados_write_op_cmpext, rados_write_op_cmpxattr, rados_write_op_omap_cmp2,
// rados_write_op_set_flags, rados_write_op_create, rados_write_op_write,
// rados_write_op_write_full, rados_write_op_writesame, rados_write_op_append,
// rados_write_op_remove, rados_write_op_truncate, rados_write_op_zero,
// rados_write_op_setxattr, rados_write_op_rmxattr, rados_write_op_omap_set,
// rados_write_op_omap_rm_keys, rados_write_op_omap_rm_range2,
// rados_write_op_omap_clear, rados_write_op_exec, rados_write_op_set_alloc_hint2
void AddWriteStep(WriteState& st, const Step& s) {
  rados_write_op_t op = st.op;
  if (s.name == "setFlags") {  // flags of the step before: no step of its own
    rados_write_op_set_flags(op, static_cast<int>(s.U64(1, "flags")));
    return;
  }
  int* prval = &st.prvals.emplace_back(0);
  const std::string& n = s.name;
  if (n == "assertExists") {
    rados_write_op_assert_exists(op);
  } else if (n == "assertVersion") {
    rados_write_op_assert_version(op, s.U64(1, "version"));
  } else if (n == "cmpext") {
    std::string cmp = s.Bytes(1, "expected");
    rados_write_op_cmpext(op, cmp.data(), cmp.size(), s.U64(2, "offset"), prval);
  } else if (n == "cmpxattr") {
    std::string name = s.Str(1, "name");
    std::string value = s.Bytes(3, "value");
    rados_write_op_cmpxattr(op, name.c_str(), s.CmpOp(2), value.data(), value.size());
  } else if (n == "omapCmp") {
    std::string key = s.Str(1, "key");
    std::string value = s.Bytes(3, "value");
    rados_write_op_omap_cmp2(op, key.data(), s.CmpOp(2), value.data(), key.size(), value.size(), prval);
  } else if (n == "create") {
    rados_write_op_create(op, s.At(1).ToBoolean() ? LIBRADOS_CREATE_EXCLUSIVE : LIBRADOS_CREATE_IDEMPOTENT, nullptr);
  } else if (n == "write") {
    std::string data = s.Bytes(1, "data");
    rados_write_op_write(op, data.data(), data.size(), s.U64(2, "offset"));
  } else if (n == "writeFull") {
    std::string data = s.Bytes(1, "data");
    rados_write_op_write_full(op, data.data(), data.size());
  } else if (n == "writeSame") {
    std::string data = s.Bytes(1, "data");
    rados_write_op_writesame(op, data.data(), data.size(), s.U64(2, "writeLength"), s.U64(3, "offset"));
  } else if (n == "append") {
    std::string data = s.Bytes(1, "data");
    rados_write_op_append(op, data.data(), data.size());
  } else if (n == "remove") {
    rados_write_op_remove(op);
  } else if (n == "truncate") {
    rados_write_op_truncate(op, s.U64(1, "offset"));
  } else if (n == "zero") {
    rados_write_op_zero(op, s.U64(1, "offset"), s.U64(2, "length"));
  } else if (n == "setXattr") {
    std::string name = s.Str(1, "name");
    std::string value = s.Bytes(2, "value");
    rados_write_op_setxattr(op, name.c_str(), value.data(), value.size());
  } else if (n == "rmXattr") {
    rados_write_op_rmxattr(op, s.Str(1, "name").c_str());
  } else if (n == "omapSet") {
    // Keys are NUL-free strings (checked), so the C-string form is exact.
    std::vector<std::string> keys = s.Strings(1, "keys");
    std::vector<std::string> vals = s.Buffers(2, "values");
    if (keys.size() != vals.size()) ThrowType(s.env, "Expected as many omap values as keys");
    std::vector<const char*> kp, vp;
    std::vector<size_t> lens;
    for (size_t k = 0; k < keys.size(); ++k) {
      kp.push_back(keys[k].c_str());
      vp.push_back(vals[k].data());
      lens.push_back(vals[k].size());
    }
    rados_write_op_omap_set(op, kp.data(), vp.data(), lens.data(), keys.size());
  } else if (n == "omapRmKeys") {
    std::vector<std::string> keys = s.Strings(1, "keys");
    std::vector<const char*> kp;
    for (const std::string& k : keys) kp.push_back(k.c_str());
    rados_write_op_omap_rm_keys(op, kp.data(), keys.size());
  } else if (n == "omapRmRange") {
    std::string begin = s.Str(1, "start");
    std::string end = s.Str(2, "end");
    rados_write_op_omap_rm_range2(op, begin.data(), begin.size(), end.data(), end.size());
  } else if (n == "omapClear") {
    rados_write_op_omap_clear(op);
  } else if (n == "exec") {
    std::string cls = s.Str(1, "cls");
    std::string method = s.Str(2, "method");
    std::string in = s.Bytes(3, "input");
    rados_write_op_exec(op, cls.c_str(), method.c_str(), in.data(), in.size(), prval);
  } else if (n == "setAllocHint") {
    rados_write_op_set_alloc_hint2(op, s.U64(1, "expectedObjectSize"), s.U64(2, "expectedWriteSize"),
                                   static_cast<uint32_t>(s.U64(3, "flags")));
  } else {
    ThrowType(s.env, "Unknown write op step: " + n);
  }
}

// writeOperate(ioctx, oid, steps, flags, mtimeSeconds | null) -> object version
// Implements: rados_create_write_op, rados_aio_write_op_operate
Napi::Value WriteOperate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::vector<Step> steps = ReadSteps(info, 2);
  int flags = static_cast<int>(ArgU64(info, 3, "flags"));
  bool hasMtime = info[4].IsNumber();
  time_t mtime = hasMtime ? static_cast<time_t>(ArgI64(info, 4, "mtime")) : 0;
  ErrorContext ctx = ObjectContext(*io, "IoCtx.writeOp", oid);
  auto st = std::make_shared<WriteState>();
  st->op = rados_create_write_op();
  if (st->op == nullptr) throw Napi::Error(env, MakeCephError(env, -ENOMEM, ctx));
  for (const Step& s : steps) AddWriteStep(*st, s);
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto* aio = new AioOp(env, io, ctx);
  aio->ConvertWith([st, ctx](Napi::Env e, int64_t rc, uint64_t version) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, StepError(e, rc, ctx, st->prvals));
    return Napi::Number::New(e, static_cast<double>(version));
  });
  rados_ioctx_t handle = io->io();
  return aio->StartRados(env, [&](rados_completion_t comp) {
    time_t t = mtime;
    return rados_aio_write_op_operate(st->op, handle, comp, oid.c_str(), hasMtime ? &t : nullptr, flags);
  });
}

// --- read ops -------------------------------------------------------------

struct ReadOut {
  std::string kind;
  uint64_t size = 0;
  time_t mtime = 0;
  size_t bytes = 0;
  unsigned char more = 0;
  rados_omap_iter_t omap = nullptr;
  rados_xattrs_iter_t xattrs = nullptr;
  char* execOut = nullptr;
  size_t execLen = 0;
  std::string checksum;
  int checksumWidth = 0;
};

struct ReadState {
  rados_read_op_t op = nullptr;
  std::deque<int> prvals;
  std::deque<ReadOut> outs;
  ~ReadState() {
    // The op first: its iterators outlive it (as in IoCtx.omapGet).
    if (op != nullptr) rados_release_read_op(op);  // Implements: rados_release_read_op
    for (ReadOut& o : outs) {
      if (o.omap != nullptr) rados_omap_get_end(o.omap);
      if (o.xattrs != nullptr) rados_getxattrs_end(o.xattrs);
      if (o.execOut != nullptr) rados_buffer_free(o.execOut);
    }
  }
};

// Implements: rados_read_op_assert_exists, rados_read_op_assert_version,
// rados_read_op_cmpext, rados_read_op_cmpxattr, rados_read_op_omap_cmp2,
// rados_read_op_set_flags, rados_read_op_stat, rados_read_op_read,
// rados_read_op_checksum, rados_read_op_exec, rados_read_op_getxattrs,
// rados_read_op_omap_get_keys2, rados_read_op_omap_get_vals2,
// rados_read_op_omap_get_vals_by_keys2
void AddReadStep(ReadState& st, const Step& s, std::vector<Napi::Object>& pins) {
  rados_read_op_t op = st.op;
  if (s.name == "setFlags") {  // flags of the step before: no step of its own
    rados_read_op_set_flags(op, static_cast<int>(s.U64(1, "flags")));
    return;
  }
  int* prval = &st.prvals.emplace_back(0);
  ReadOut& out = st.outs.emplace_back();
  out.kind = s.name;
  const std::string& n = s.name;
  if (n == "assertExists") {
    rados_read_op_assert_exists(op);
  } else if (n == "assertVersion") {
    rados_read_op_assert_version(op, s.U64(1, "version"));
  } else if (n == "cmpext") {
    std::string cmp = s.Bytes(1, "expected");
    rados_read_op_cmpext(op, cmp.data(), cmp.size(), s.U64(2, "offset"), prval);
  } else if (n == "cmpxattr") {
    std::string name = s.Str(1, "name");
    std::string value = s.Bytes(3, "value");
    rados_read_op_cmpxattr(op, name.c_str(), s.CmpOp(2), value.data(), value.size());
  } else if (n == "omapCmp") {
    std::string key = s.Str(1, "key");
    std::string value = s.Bytes(3, "value");
    rados_read_op_omap_cmp2(op, key.data(), s.CmpOp(2), value.data(), key.size(), value.size(), prval);
  } else if (n == "stat") {
    rados_read_op_stat(op, &out.size, &out.mtime, prval);
  } else if (n == "read") {
    Napi::Value v = s.At(2);
    if (!v.IsBuffer()) ThrowType(s.env, "Expected a Buffer for read buffer");
    auto buf = v.As<Napi::Buffer<char>>();
    pins.push_back(buf);
    size_t len = buf.Length() > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(INT_MAX) : buf.Length();
    rados_read_op_read(op, s.U64(1, "offset"), len, buf.Data(), &out.bytes, prval);
  } else if (n == "checksum") {
    uint64_t type = s.U64(1, "type");
    if (type > LIBRADOS_CHECKSUM_TYPE_CRC32C) throw Napi::RangeError::New(s.env, "checksum type must be one of LIBRADOS_CHECKSUM_TYPE_*");
    std::string init = s.Bytes(2, "initial value");
    uint64_t off = s.U64(3, "offset");
    uint64_t len = s.U64(4, "length");
    uint64_t chunk = s.U64(5, "chunkSize");
    out.checksumWidth = type == LIBRADOS_CHECKSUM_TYPE_XXHASH64 ? 8 : 4;
    uint64_t count = chunk == 0 ? 1 : (len + chunk - 1) / chunk;
    if (count > (1u << 20)) throw Napi::RangeError::New(s.env, "checksum would return too many chunks");
    out.checksum.assign(4 + count * out.checksumWidth, '\0');
    rados_read_op_checksum(op, static_cast<rados_checksum_type_t>(type), init.data(), init.size(), off, len, chunk,
                           &out.checksum[0], out.checksum.size(), prval);
  } else if (n == "exec") {
    std::string cls = s.Str(1, "cls");
    std::string method = s.Str(2, "method");
    std::string in = s.Bytes(3, "input");
    rados_read_op_exec(op, cls.c_str(), method.c_str(), in.data(), in.size(), &out.execOut, &out.execLen, prval);
  } else if (n == "getXattrs") {
    rados_read_op_getxattrs(op, &out.xattrs, prval);
  } else if (n == "omapGetKeys") {
    std::string after = s.Str(1, "startAfter");
    rados_read_op_omap_get_keys2(op, after.c_str(), s.U64(2, "max"), &out.omap, &out.more, prval);
  } else if (n == "omapGetVals") {
    std::string after = s.Str(1, "startAfter");
    std::string prefix = s.Str(2, "prefix");
    rados_read_op_omap_get_vals2(op, after.c_str(), prefix.c_str(), s.U64(3, "max"), &out.omap, &out.more, prval);
  } else if (n == "omapGetValsByKeys") {
    std::vector<std::string> keys = s.Strings(1, "keys");
    std::vector<const char*> kp;
    std::vector<size_t> kl;
    for (const std::string& k : keys) {
      kp.push_back(k.data());
      kl.push_back(k.size());
    }
    rados_read_op_omap_get_vals_by_keys2(op, kp.data(), keys.size(), kl.data(), &out.omap, prval);
  } else {
    ThrowType(s.env, "Unknown read op step: " + n);
  }
}

// Omap entries of an iterator: [[key, Buffer]] or, keysOnly, [key].
// Implements: rados_omap_iter_size, rados_omap_get_next2
Napi::Array OmapEntries(Napi::Env env, rados_omap_iter_t iter, bool keysOnly) {
  Napi::Array arr = Napi::Array::New(env, rados_omap_iter_size(iter));
  for (uint32_t k = 0;; ++k) {
    char* key = nullptr;
    char* val = nullptr;
    size_t keyLen = 0;
    size_t valLen = 0;
    if (rados_omap_get_next2(iter, &key, &val, &keyLen, &valLen) < 0 || key == nullptr) break;
    Napi::String ks = Napi::String::New(env, key, keyLen);
    if (keysOnly) {
      arr.Set(k, ks);
    } else {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, ks);
      pair.Set(1u, val == nullptr ? Napi::Buffer<char>::New(env, 0) : Napi::Buffer<char>::Copy(env, val, valLen));
      arr.Set(k, pair);
    }
  }
  return arr;
}

// Implements: rados_getxattrs_next
Napi::Array XattrEntries(Napi::Env env, rados_xattrs_iter_t iter) {
  Napi::Array arr = Napi::Array::New(env);
  for (uint32_t k = 0;; ++k) {
    const char* name = nullptr;
    const char* val = nullptr;
    size_t len = 0;
    if (rados_getxattrs_next(iter, &name, &val, &len) < 0 || name == nullptr) break;
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, name));
    pair.Set(1u, val == nullptr ? Napi::Buffer<char>::New(env, 0) : Napi::Buffer<char>::Copy(env, val, len));
    arr.Set(k, pair);
  }
  return arr;
}

Napi::Value ChecksumValues(Napi::Env env, const ReadOut& o) {
  uint32_t count = 0;
  std::memcpy(&count, o.checksum.data(), 4);  // little-endian, as the hosts we build on
  size_t fit = (o.checksum.size() - 4) / o.checksumWidth;
  if (count > fit) count = static_cast<uint32_t>(fit);
  Napi::Array arr = Napi::Array::New(env, count);
  for (uint32_t k = 0; k < count; ++k) {
    const char* p = o.checksum.data() + 4 + k * o.checksumWidth;
    if (o.checksumWidth == 8) {
      uint64_t v = 0;
      std::memcpy(&v, p, 8);
      arr.Set(k, Napi::BigInt::New(env, v));
    } else {
      uint32_t v = 0;
      std::memcpy(&v, p, 4);
      arr.Set(k, Napi::Number::New(env, v));
    }
  }
  return arr;
}

Napi::Value ReadResult(Napi::Env env, const ReadOut& o) {
  const std::string& k = o.kind;
  if (k == "stat") return StatObject(env, o.size, o.mtime);
  if (k == "read") return Napi::Number::New(env, static_cast<double>(o.bytes));
  if (k == "checksum") return ChecksumValues(env, o);
  if (k == "exec") return Napi::Buffer<char>::Copy(env, o.execOut == nullptr ? "" : o.execOut, o.execLen);
  if (k == "getXattrs") return o.xattrs == nullptr ? Napi::Array::New(env) : XattrEntries(env, o.xattrs);
  if (k == "omapGetKeys" || k == "omapGetVals" || k == "omapGetValsByKeys") {
    Napi::Object r = Napi::Object::New(env);
    r.Set("entries", o.omap == nullptr ? Napi::Array::New(env) : OmapEntries(env, o.omap, k == "omapGetKeys"));
    r.Set("more", Napi::Boolean::New(env, o.more != 0));
    return r;
  }
  return env.Null();
}

// readOperate(ioctx, oid, steps, flags) -> { version, results: [one per step] }
// Implements: rados_create_read_op, rados_aio_read_op_operate
Napi::Value ReadOperate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::vector<Step> steps = ReadSteps(info, 2);
  int flags = static_cast<int>(ArgU64(info, 3, "flags"));
  ErrorContext ctx = ObjectContext(*io, "IoCtx.readOp", oid);
  auto st = std::make_shared<ReadState>();
  st->op = rados_create_read_op();
  if (st->op == nullptr) throw Napi::Error(env, MakeCephError(env, -ENOMEM, ctx));
  std::vector<Napi::Object> pins;
  for (const Step& s : steps) AddReadStep(*st, s, pins);
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto* aio = new AioOp(env, io, ctx);
  for (const Napi::Object& pin : pins) aio->Pin(pin);
  aio->ConvertWith([st, ctx](Napi::Env e, int64_t rc, uint64_t version) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, StepError(e, rc, ctx, st->prvals));
    Napi::Array results = Napi::Array::New(e, st->outs.size());
    for (size_t k = 0; k < st->outs.size(); ++k) results.Set(static_cast<uint32_t>(k), ReadResult(e, st->outs[k]));
    Napi::Object r = Napi::Object::New(e);
    r.Set("version", Napi::Number::New(e, static_cast<double>(version)));
    r.Set("results", results);
    return r;
  });
  rados_ioctx_t handle = io->io();
  return aio->StartRados(env, [&](rados_completion_t comp) {
    return rados_aio_read_op_operate(st->op, handle, comp, oid.c_str(), flags);
  });
}

}  // namespace

void InitRadosOps(Napi::Env env, Napi::Object ns) {
  ns.Set("writeOperate", Napi::Function::New(env, WriteOperate, "writeOperate"));
  ns.Set("readOperate", Napi::Function::New(env, ReadOperate, "readOperate"));
}

}  // namespace cephrbd
