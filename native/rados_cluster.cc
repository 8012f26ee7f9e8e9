#include "rados_cluster.h"

#include <cerrno>
#include <chrono>
#include <thread>
#include <map>
#include <vector>

#include "common/addon_data.h"
#include "common/args.h"
#include "common/retry.h"
#include "common/worker.h"
#include "common/wrap.h"
#include "rados_ioctx.h"

namespace cephrbd {

const napi_type_tag kRadosTag = {0x6b3f2a1c9d4e4f01ULL, 0xa1b2c3d4e5f60718ULL};

void RadosCluster::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "RadosCluster",
      {
          InstanceMethod<&RadosCluster::Fsid>("fsid"),
          InstanceMethod<&RadosCluster::InstanceId>("instanceId"),
          InstanceMethod<&RadosCluster::ConfGet>("confGet"),
          InstanceMethod<&RadosCluster::ConfSet>("confSet"),
          InstanceMethod<&RadosCluster::Stat>("stat"),
          InstanceMethod<&RadosCluster::ListPools>("listPools"),
          InstanceMethod<&RadosCluster::CreatePool>("createPool"),
          InstanceMethod<&RadosCluster::DeletePool>("deletePool"),
          InstanceMethod<&RadosCluster::PoolLookup>("poolLookup"),
          InstanceMethod<&RadosCluster::PoolReverseLookup>("poolReverseLookup"),
          InstanceMethod<&RadosCluster::PoolStat>("poolStat"),
          InstanceMethod<&RadosCluster::MonCommand>("monCommand"),
          InstanceMethod<&RadosCluster::WaitForLatestOsdMap>("waitForLatestOsdMap"),
          InstanceMethod<&RadosCluster::OpenIoctx>("openIoctx"),
          InstanceMethod<&RadosCluster::Shutdown>("shutdown"),
          InstanceAccessor<&RadosCluster::GetState>("state"),
      });
  AddonData::Get(env)->radosCtor = Napi::Persistent(ctor);
  exports.Set("RadosCluster", ctor);
  exports.Set("connect", Napi::Function::New(env, &RadosCluster::Connect, "connect"));
}

RadosCluster* RadosCluster::FromValue(Napi::Env env, Napi::Value v) {
  return UnwrapTagged<RadosCluster>(env, v, kRadosTag, "RadosCluster");
}

RadosCluster::RadosCluster(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<RadosCluster>(info), Handle(info.Env(), "cluster connection") {
  if (!IsFromAddon(info)) {
    throw Napi::TypeError::New(info.Env(), "RadosCluster cannot be constructed directly; use connect()");
  }
  cluster_ = *info[1].As<Napi::External<rados_t>>().Data();
  delete info[1].As<Napi::External<rados_t>>().Data();
  TagObject(info.Env(), Value(), kRadosTag);
}

RadosCluster::~RadosCluster() { ForgetOnCollect(); }

std::function<void()> RadosCluster::TakeRelease() {
  rados_t cluster = cluster_;
  cluster_ = nullptr;
  if (cluster == nullptr) return nullptr;
  return [cluster] { rados_shutdown(cluster); };  // Implements: rados_shutdown
}

ErrorContext RadosCluster::Ctx(const char* op, const std::string& pool) const {
  ErrorContext ctx;
  ctx.op = op;
  ctx.family = "rados";
  ctx.pool = pool;
  return ctx;
}

namespace {

struct ConnectOptions {
  std::string clusterName;  // "" = "ceph"
  std::string name;         // entity name, "" = client.admin
  bool readDefaultConf = true;
  std::string confFile;     // explicit file, read strictly
  std::vector<std::pair<std::string, std::string>> conf;
};

// Pacific's client can hold a placeholder monmap (fsid all zeros) for a
// moment after rados_connect; mon commands sent then are refused ("wrong
// fsid") and rados_cluster_fsid reads zeros. Wait until the real monmap is in.
// Implements: rados_wait_for_latest_osdmap, rados_cluster_fsid
int WaitForMonmap(rados_t cluster) {
  rados_wait_for_latest_osdmap(cluster);  // a round trip to the monitors
  for (int i = 0; i < 500; ++i) {
    char buf[64] = {0};
    if (rados_cluster_fsid(cluster, buf, sizeof(buf)) >= 0 &&
        std::string(buf) != "00000000-0000-0000-0000-000000000000") {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -ETIMEDOUT;
}

// Implements: rados_create2, rados_conf_read_file, rados_conf_parse_env,
// rados_conf_set, rados_connect (all on the worker thread)
int DoConnect(const ConnectOptions& o, rados_t* out) {
  rados_t cluster = nullptr;
  const char* clusterName = o.clusterName.empty() ? "ceph" : o.clusterName.c_str();
  const char* name = o.name.empty() ? "client.admin" : o.name.c_str();
  int rc = rados_create2(&cluster, clusterName, name, 0);
  if (rc < 0) return rc;
  if (!o.confFile.empty()) {
    rc = rados_conf_read_file(cluster, o.confFile.c_str());
  } else if (o.readDefaultConf) {
    // Honours CEPH_CONF and the default search path like the ceph tools.
    // No file at all is fine when the options carry mon_host.
    rc = rados_conf_read_file(cluster, nullptr);
    if (rc == -ENOENT || rc == -EINVAL) rc = 0;
  }
  if (rc == 0) rc = rados_conf_parse_env(cluster, nullptr);  // CEPH_ARGS
  for (const auto& kv : o.conf) {
    if (rc < 0) break;
    rc = rados_conf_set(cluster, kv.first.c_str(), kv.second.c_str());
  }
  if (rc == 0) rc = rados_connect(cluster);
  if (rc == 0) rc = WaitForMonmap(cluster);
  if (rc < 0) {
    rados_shutdown(cluster);
    return rc;
  }
  *out = cluster;
  return 0;
}

}  // namespace

Napi::Value RadosCluster::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowType(env, "Expected an options object for connect");
  Napi::Object opts = info[0].As<Napi::Object>();
  ConnectOptions o;
  auto str = [&](const char* key) -> std::string {
    Napi::Value v = opts.Get(key);
    if (v.IsUndefined() || v.IsNull()) return std::string();
    if (!v.IsString()) ThrowType(env, std::string("Expected a string for ") + key);
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) ThrowType(env, std::string(key) + " must not contain NUL");
    return s;
  };
  o.clusterName = str("clusterName");
  o.name = str("name");
  o.confFile = str("confFile");
  o.readDefaultConf = !opts.Get("noConfFile").ToBoolean().Value();
  Napi::Value conf = opts.Get("conf");
  if (conf.IsObject()) {
    Napi::Object c = conf.As<Napi::Object>();
    Napi::Array keys = c.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string key = keys.Get(i).ToString().Utf8Value();
      Napi::Value v = c.Get(key);
      if (!v.IsString()) ThrowType(env, "Expected string values in conf (" + key + ")");
      o.conf.emplace_back(key, v.As<Napi::String>().Utf8Value());
    }
  }
  ErrorContext ctx;
  ctx.op = "Rados.connect";
  ctx.family = "rados";
  return RunAsync<rados_t>(
      env, nullptr, ctx, [o](rados_t& out) { return DoConnect(o, &out); },
      [](Napi::Env env, rados_t& cluster) -> Napi::Value {
        auto* payload = new rados_t(cluster);
        return NewFromAddon(env, AddonData::Get(env)->radosCtor, payload);
      });
}

// Implements: rados_cluster_fsid (reads the local monmap; does not block)
Napi::Value RadosCluster::Fsid(const Napi::CallbackInfo& info) {
  if (!IsOpen()) throw Napi::Error(info.Env(), MakeClosedError(info.Env(), "Rados.fsid", Kind()));
  char buf[64] = {0};
  int rc = rados_cluster_fsid(cluster_, buf, sizeof(buf));
  if (rc < 0) throw Napi::Error(info.Env(), MakeCephError(info.Env(), rc, Ctx("Rados.fsid")));
  return Napi::String::New(info.Env(), buf);
}

// Implements: rados_get_instance_id
Napi::Value RadosCluster::InstanceId(const Napi::CallbackInfo& info) {
  if (!IsOpen()) throw Napi::Error(info.Env(), MakeClosedError(info.Env(), "Rados.instanceId", Kind()));
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(rados_get_instance_id(cluster_)));
}

// Implements: rados_conf_get (in-memory configuration; does not block)
Napi::Value RadosCluster::ConfGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string key = ArgString(info, 0, "option");
  if (!IsOpen()) throw Napi::Error(env, MakeClosedError(env, "Rados.confGet", Kind()));
  std::vector<char> buf;
  int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) {
    int r = rados_conf_get(cluster_, key.c_str(), data, *len);
    if (r == -ENAMETOOLONG) {
      *len *= 4;
      return -ERANGE;
    }
    return r;
  });
  if (rc == -ENOENT) return env.Null();
  if (rc < 0) throw Napi::Error(env, MakeCephError(env, rc, Ctx("Rados.confGet")));
  return Napi::String::New(env, buf.data());
}

// Implements: rados_conf_set
Napi::Value RadosCluster::ConfSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string key = ArgString(info, 0, "option");
  std::string value = ArgString(info, 1, "value");
  if (!IsOpen()) throw Napi::Error(env, MakeClosedError(env, "Rados.confSet", Kind()));
  int rc = rados_conf_set(cluster_, key.c_str(), value.c_str());
  if (rc < 0) throw Napi::Error(env, MakeCephError(env, rc, Ctx("Rados.confSet")));
  return env.Undefined();
}

// Implements: rados_cluster_stat
Napi::Value RadosCluster::Stat(const Napi::CallbackInfo& info) {
  rados_t c = cluster_;
  return RunAsync<rados_cluster_stat_t>(
      info.Env(), this, Ctx("Rados.stat"),
      [c](rados_cluster_stat_t& out) { return rados_cluster_stat(c, &out); },
      [](Napi::Env env, rados_cluster_stat_t& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("kb", Napi::Number::New(env, static_cast<double>(s.kb)));
        o.Set("kbUsed", Napi::Number::New(env, static_cast<double>(s.kb_used)));
        o.Set("kbAvail", Napi::Number::New(env, static_cast<double>(s.kb_avail)));
        o.Set("numObjects", Napi::Number::New(env, static_cast<double>(s.num_objects)));
        return o;
      });
}

static Napi::Value ToStringArray(Napi::Env env, const std::vector<std::string>& names) {
  Napi::Array arr = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) arr.Set(static_cast<uint32_t>(i), names[i]);
  return arr;
}

// Implements: rados_pool_list
Napi::Value RadosCluster::ListPools(const Napi::CallbackInfo& info) {
  rados_t c = cluster_;
  return RunAsync<std::vector<std::string>>(
      info.Env(), this, Ctx("Rados.listPools"),
      [c](std::vector<std::string>& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 1024, [c](char* data, size_t* len) {
          int r = rados_pool_list(c, data, *len);
          if (r < 0) return r;
          if (static_cast<size_t>(r) > *len) {
            *len = static_cast<size_t>(r);
            return -ERANGE;
          }
          return 0;
        });
        if (rc < 0) return rc;
        out = SplitNulList(buf.data(), buf.size());
        return 0;
      },
      [](Napi::Env env, std::vector<std::string>& names) { return ToStringArray(env, names); });
}

// Implements: rados_pool_create
Napi::Value RadosCluster::CreatePool(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "pool");
  rados_t c = cluster_;
  return RunAsyncVoid(info.Env(), this, Ctx("Rados.createPool", pool),
                      [c, pool] { return rados_pool_create(c, pool.c_str()); });
}

// Implements: rados_pool_delete
Napi::Value RadosCluster::DeletePool(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "pool");
  rados_t c = cluster_;
  return RunAsyncVoid(info.Env(), this, Ctx("Rados.deletePool", pool),
                      [c, pool] { return rados_pool_delete(c, pool.c_str()); });
}

// Implements: rados_pool_lookup
Napi::Value RadosCluster::PoolLookup(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "pool");
  rados_t c = cluster_;
  return RunAsyncCount(info.Env(), this, Ctx("Rados.poolLookup", pool), [c, pool]() -> int64_t {
    return rados_pool_lookup(c, pool.c_str());
  });
}

// Implements: rados_pool_reverse_lookup
Napi::Value RadosCluster::PoolReverseLookup(const Napi::CallbackInfo& info) {
  int64_t id = ArgI64(info, 0, "poolId");
  rados_t c = cluster_;
  return RunAsync<std::string>(
      info.Env(), this, Ctx("Rados.poolReverseLookup", std::to_string(id)),
      [c, id](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) {
          int r = rados_pool_reverse_lookup(c, id, data, *len);
          return r;
        });
        if (rc < 0) return rc;
        out.assign(buf.data());
        return 0;
      },
      [](Napi::Env env, std::string& name) { return Napi::String::New(env, name); });
}

// Implements: rados_ioctx_create, rados_ioctx_pool_stat, rados_ioctx_destroy
Napi::Value RadosCluster::PoolStat(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "pool");
  rados_t c = cluster_;
  return RunAsync<rados_pool_stat_t>(
      info.Env(), this, Ctx("Rados.poolStat", pool),
      [c, pool](rados_pool_stat_t& out) {
        rados_ioctx_t io = nullptr;
        int rc = rados_ioctx_create(c, pool.c_str(), &io);
        if (rc < 0) return rc;
        rc = rados_ioctx_pool_stat(io, &out);
        rados_ioctx_destroy(io);
        return rc;
      },
      [](Napi::Env env, rados_pool_stat_t& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
        n("numBytes", s.num_bytes);
        n("numKb", s.num_kb);
        n("numObjects", s.num_objects);
        n("numObjectClones", s.num_object_clones);
        n("numObjectCopies", s.num_object_copies);
        n("numObjectsMissingOnPrimary", s.num_objects_missing_on_primary);
        n("numObjectsUnfound", s.num_objects_unfound);
        n("numObjectsDegraded", s.num_objects_degraded);
        n("numRd", s.num_rd);
        n("numRdKb", s.num_rd_kb);
        n("numWr", s.num_wr);
        n("numWrKb", s.num_wr_kb);
        n("numUserBytes", s.num_user_bytes);
        return o;
      });
}

namespace {
struct MonReply {
  int rc = 0;
  std::string outbuf;
  std::string outs;
};
}  // namespace

// Implements: rados_mon_command, rados_buffer_free
// Resolves { status, outbuf: Buffer, outs } even for a negative status: the
// caller decides (Cinder's stats treat a failed "df" as unknown capacity).
Napi::Value RadosCluster::MonCommand(const Napi::CallbackInfo& info) {
  std::string cmd = ArgString(info, 0, "command");
  std::string inbuf;
  if (info[1].IsBuffer()) {
    auto b = info[1].As<Napi::Buffer<char>>();
    inbuf.assign(b.Data(), b.Length());
  }
  rados_t c = cluster_;
  return RunAsync<MonReply>(
      info.Env(), this, Ctx("Rados.monCommand"),
      [c, cmd, inbuf](MonReply& out) {
        const char* cmds[1] = {cmd.c_str()};
        char* outbuf = nullptr;
        size_t outbufLen = 0;
        char* outs = nullptr;
        size_t outsLen = 0;
        out.rc = rados_mon_command(c, cmds, 1, inbuf.data(), inbuf.size(), &outbuf, &outbufLen,
                                   &outs, &outsLen);
        if (outbuf != nullptr) out.outbuf.assign(outbuf, outbufLen);
        if (outs != nullptr) out.outs.assign(outs, outsLen);
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        // Connection-level failures still reject; command errors resolve.
        return (out.rc == -ETIMEDOUT || out.rc == -ENOTCONN || out.rc == -ESHUTDOWN) ? out.rc : 0;
      },
      [](Napi::Env env, MonReply& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("status", Napi::Number::New(env, r.rc));
        o.Set("outbuf", Napi::Buffer<char>::Copy(env, r.outbuf.data(), r.outbuf.size()));
        o.Set("outs", Napi::String::New(env, r.outs));
        return o;
      });
}

// Implements: rados_wait_for_latest_osdmap
Napi::Value RadosCluster::WaitForLatestOsdMap(const Napi::CallbackInfo& info) {
  rados_t c = cluster_;
  return RunAsyncVoid(info.Env(), this, Ctx("Rados.waitForLatestOsdMap"),
                      [c] { return rados_wait_for_latest_osdmap(c); });
}

// Implements: rados_ioctx_create, rados_ioctx_set_namespace
Napi::Value RadosCluster::OpenIoctx(const Napi::CallbackInfo& info) {
  std::string pool = ArgString(info, 0, "pool");
  std::string ns = ArgOptString(info, 1, "namespace");
  rados_t c = cluster_;
  ErrorContext ctx = Ctx("Rados.openIoctx", pool);
  ctx.nspace = ns;
  return RunAsync<rados_ioctx_t>(
      info.Env(), this, ctx,
      [c, pool, ns](rados_ioctx_t& out) {
        int rc = rados_ioctx_create(c, pool.c_str(), &out);
        if (rc < 0) return rc;
        if (!ns.empty()) rados_ioctx_set_namespace(out, ns.c_str());
        return 0;
      },
      [this, pool, ns](Napi::Env env, rados_ioctx_t& io) -> Napi::Value {
        return IoCtx::Create(env, this, io, pool, ns);
      });
}

Napi::Promise CloseHandle(Napi::Env env, Handle* handle) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  Napi::Promise promise = deferred->Promise();
  handle->RequestClose(env, [deferred](Napi::Env e) { deferred->Resolve(e.Undefined()); });
  return promise;
}

Napi::Value RadosCluster::Shutdown(const Napi::CallbackInfo& info) { return CloseHandle(info.Env(), this); }

Napi::Value RadosCluster::GetState(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), StateName());
}

}  // namespace cephrbd
