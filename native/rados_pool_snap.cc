// Pool snapshots (rados_ioctx_snap_*) and self-managed snapshots
// (rados_ioctx_selfmanaged_snap_*). A pool uses one kind or the other: the
// OSDs refuse the second kind with EINVAL. The read snapshot and the write
// context are local state of the I/O context (set them before starting I/O).
#include <cerrno>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/aio.h"
#include "common/args.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

ErrorContext SnapCtx(const IoCtx& io, const char* op, const std::string& snap) {
  ErrorContext ctx = io.Ctx(op);
  ctx.snapshot = snap;
  return ctx;
}

Napi::Value SnapIdValue(Napi::Env env, uint64_t id) { return Napi::BigInt::New(env, id); }

// snapCreate(ioctx, name)
// Implements: rados_ioctx_snap_create
Napi::Value SnapCreate(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, SnapCtx(*io, "IoCtx.poolSnapCreate", name),
                      [h, name] { return rados_ioctx_snap_create(h, name.c_str()); });
}

// Implements: rados_ioctx_snap_remove
Napi::Value SnapRemove(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, SnapCtx(*io, "IoCtx.poolSnapRemove", name),
                      [h, name] { return rados_ioctx_snap_remove(h, name.c_str()); });
}

// snapRollback(ioctx, oid, snapName): one object back to its content at the snapshot.
// Implements: rados_ioctx_snap_rollback
Napi::Value SnapRollback(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  std::string name = ArgString(info, 2, "snapName");
  rados_ioctx_t h = io->io();
  ErrorContext ctx = SnapCtx(*io, "IoCtx.poolSnapRollback", name);
  ctx.object = oid;
  return RunAsyncVoid(info.Env(), io, ctx,
                      [h, oid, name] { return rados_ioctx_snap_rollback(h, oid.c_str(), name.c_str()); });
}

struct SnapEntry {
  uint64_t id;
  std::string name;
  time_t stamp;
};

// snapList(ioctx) -> [{ id: bigint, name, timestampMs }]
// Implements: rados_ioctx_snap_list, rados_ioctx_snap_get_name, rados_ioctx_snap_get_stamp
Napi::Value SnapList(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  rados_ioctx_t h = io->io();
  return RunAsync<std::vector<SnapEntry>>(
      info.Env(), io, io->Ctx("IoCtx.poolSnapList"),
      [h](std::vector<SnapEntry>& out) {
        std::vector<rados_snap_t> ids(16);
        int n = 0;
        for (;;) {
          n = rados_ioctx_snap_list(h, ids.data(), static_cast<int>(ids.size()));
          if (n != -ERANGE) break;
          ids.resize(ids.size() * 2);
          if (ids.size() > (1u << 20)) return -ERANGE;
        }
        if (n < 0) return n;
        for (int k = 0; k < n; ++k) {
          char name[512] = {0};
          time_t stamp = 0;
          int rc = rados_ioctx_snap_get_name(h, ids[k], name, sizeof(name) - 1);
          if (rc == -ENOENT) continue;  // removed meanwhile
          if (rc < 0) return rc;
          rc = rados_ioctx_snap_get_stamp(h, ids[k], &stamp);
          if (rc < 0 && rc != -ENOENT) return rc;
          out.push_back(SnapEntry{ids[k], name, stamp});
        }
        return 0;
      },
      [](Napi::Env env, std::vector<SnapEntry>& snaps) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, snaps.size());
        for (size_t k = 0; k < snaps.size(); ++k) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("id", SnapIdValue(env, snaps[k].id));
          o.Set("name", snaps[k].name);
          o.Set("timestampMs", Napi::Number::New(env, static_cast<double>(snaps[k].stamp) * 1000.0));
          arr.Set(static_cast<uint32_t>(k), o);
        }
        return arr;
      });
}

// snapLookup(ioctx, name) -> id (bigint)
// Implements: rados_ioctx_snap_lookup
Napi::Value SnapLookup(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t h = io->io();
  return RunAsync<rados_snap_t>(
      info.Env(), io, SnapCtx(*io, "IoCtx.poolSnapLookup", name),
      [h, name](rados_snap_t& id) { return rados_ioctx_snap_lookup(h, name.c_str(), &id); },
      [](Napi::Env env, rados_snap_t& id) { return SnapIdValue(env, id); });
}

// snapGetName(ioctx, id) -> name
// Implements: rados_ioctx_snap_get_name
Napi::Value SnapGetName(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  uint64_t id = ArgU64(info, 1, "snapId");
  rados_ioctx_t h = io->io();
  return RunAsync<std::string>(
      info.Env(), io, SnapCtx(*io, "IoCtx.poolSnapGetName", std::to_string(id)),
      [h, id](std::string& out) {
        char name[512] = {0};
        int rc = rados_ioctx_snap_get_name(h, id, name, sizeof(name) - 1);
        if (rc < 0) return rc;
        out = name;
        return 0;
      },
      [](Napi::Env env, std::string& name) { return Napi::String::New(env, name); });
}

// snapGetStamp(ioctx, id) -> ms since the epoch (whole seconds)
// Implements: rados_ioctx_snap_get_stamp
Napi::Value SnapGetStamp(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  uint64_t id = ArgU64(info, 1, "snapId");
  rados_ioctx_t h = io->io();
  return RunAsync<time_t>(
      info.Env(), io, SnapCtx(*io, "IoCtx.poolSnapGetTimestamp", std::to_string(id)),
      [h, id](time_t& out) { return rados_ioctx_snap_get_stamp(h, id, &out); },
      [](Napi::Env env, time_t& t) { return Napi::Number::New(env, static_cast<double>(t) * 1000.0); });
}

// snapSetRead(ioctx, id | null): reads of this context see the snapshot
// (null: the head). Local state; does not block.
// Implements: rados_ioctx_snap_set_read
Napi::Value SnapSetRead(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  uint64_t id = (info[1].IsNull() || info[1].IsUndefined()) ? LIBRADOS_SNAP_HEAD : ArgU64(info, 1, "snapId");
  if (!io->IsOpen()) ThrowClosed(info.Env(), "IoCtx.snapSetRead", io);
  rados_ioctx_snap_set_read(io->io(), id);
  return info.Env().Undefined();
}

// selfmanagedSnapCreate(ioctx) -> id (bigint), through the aio dispatcher.
// Implements: rados_aio_ioctx_selfmanaged_snap_create
Napi::Value SelfmanagedSnapCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  ErrorContext ctx = io->Ctx("IoCtx.selfmanagedSnapCreate");
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto id = std::make_shared<rados_snap_t>(0);
  auto* op = new AioOp(env, io, ctx);
  op->ConvertWith([ctx, id](Napi::Env e, int64_t rc, uint64_t) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, RadosErrorFor(e, rc, ctx));
    return SnapIdValue(e, *id);
  });
  rados_ioctx_t h = io->io();
  return op->StartRados(env, [&](rados_completion_t c) {
    rados_aio_ioctx_selfmanaged_snap_create(h, id.get(), c);
    return 0;
  });
}

// selfmanagedSnapRemove(ioctx, id), through the aio dispatcher.
// Implements: rados_aio_ioctx_selfmanaged_snap_remove
Napi::Value SelfmanagedSnapRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  uint64_t id = ArgU64(info, 1, "snapId");
  ErrorContext ctx = SnapCtx(*io, "IoCtx.selfmanagedSnapRemove", std::to_string(id));
  if (!io->Enter()) return RejectClosed(env, ctx, io);
  auto* op = new AioOp(env, io, ctx);
  op->ConvertWith([ctx](Napi::Env e, int64_t rc, uint64_t) -> Napi::Value {
    if (rc < 0) throw Napi::Error(e, RadosErrorFor(e, rc, ctx));
    return e.Undefined();
  });
  rados_ioctx_t h = io->io();
  return op->StartRados(env, [&](rados_completion_t c) {
    rados_aio_ioctx_selfmanaged_snap_remove(h, id, c);
    return 0;
  });
}

// selfmanagedSnapRollback(ioctx, oid, id)
// Implements: rados_ioctx_selfmanaged_snap_rollback
Napi::Value SelfmanagedSnapRollback(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string oid = ArgString(info, 1, "oid");
  uint64_t id = ArgU64(info, 2, "snapId");
  rados_ioctx_t h = io->io();
  ErrorContext ctx = SnapCtx(*io, "IoCtx.selfmanagedSnapRollback", std::to_string(id));
  ctx.object = oid;
  return RunAsyncVoid(info.Env(), io, ctx,
                      [h, oid, id] { return rados_ioctx_selfmanaged_snap_rollback(h, oid.c_str(), id); });
}

// selfmanagedSnapSetWriteContext(ioctx, seq, snapIds (newest first)): local state.
// Implements: rados_ioctx_selfmanaged_snap_set_write_ctx
Napi::Value SelfmanagedSnapSetWriteCtx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* io = ArgIoCtx(info, 0);
  uint64_t seq = ArgU64(info, 1, "seq");
  if (!info[2].IsArray()) ThrowType(env, "Expected an array of snapshot ids for snaps");
  Napi::Array arr = info[2].As<Napi::Array>();
  std::vector<rados_snap_t> snaps;
  for (uint32_t k = 0; k < arr.Length(); ++k) snaps.push_back(ToU64(env, arr.Get(k), "snaps[]"));
  if (!io->IsOpen()) ThrowClosed(env, "IoCtx.selfmanagedSnapSetWriteContext", io);
  int rc = rados_ioctx_selfmanaged_snap_set_write_ctx(io->io(), seq, snaps.data(), static_cast<int>(snaps.size()));
  if (rc < 0) throw Napi::Error(env, MakeCephError(env, rc, io->Ctx("IoCtx.selfmanagedSnapSetWriteContext")));
  return env.Undefined();
}

}  // namespace

void InitRadosSnap(Napi::Env env, Napi::Object ns) {
  auto fn = [&](const char* name, Napi::Value (*cb)(const Napi::CallbackInfo&)) {
    ns.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("snapCreate", SnapCreate);
  fn("snapRemove", SnapRemove);
  fn("snapRollback", SnapRollback);
  fn("snapList", SnapList);
  fn("snapLookup", SnapLookup);
  fn("snapGetName", SnapGetName);
  fn("snapGetStamp", SnapGetStamp);
  fn("snapSetRead", SnapSetRead);
  fn("selfmanagedSnapCreate", SelfmanagedSnapCreate);
  fn("selfmanagedSnapRemove", SelfmanagedSnapRemove);
  fn("selfmanagedSnapRollback", SelfmanagedSnapRollback);
  fn("selfmanagedSnapSetWriteContext", SelfmanagedSnapSetWriteCtx);
}

}  // namespace cephrbd
