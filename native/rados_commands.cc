// Cluster-level librados calls: mgr/osd/pg/targeted mon commands, blocklist,
// monitor ping, client addresses, library version, pool applications and
// tiers, compatibility levels, I/O contexts by pool id.
#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/args.h"
#include "common/pairs.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

struct CommandReply {
  int rc = 0;
  std::string outbuf;
  std::string outs;
};

// command(cluster, kind, target, command, input) -> { status, outbuf, outs }
// kind: "mgr" (target ignored), "mgrTarget" (mgr name), "osd" (osd id),
// "pg" (pg id, e.g. "1.0"), "monTarget" (monitor name). Resolves with the
// command's own status, like Rados.monCommand; rejects when the cluster
// cannot be reached (ETIMEDOUT, ENOTCONN, ESHUTDOWN).
// Implements: rados_mgr_command, rados_mgr_command_target, rados_osd_command,
// rados_pg_command, rados_mon_command_target, rados_buffer_free
Napi::Value Command(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  std::string kind = ArgString(info, 1, "kind");
  std::string target = ArgOptString(info, 2, "target");
  std::string cmd = ArgString(info, 3, "command");
  std::string inbuf;
  if (info[4].IsBuffer()) {
    auto b = info[4].As<Napi::Buffer<char>>();
    inbuf.assign(b.Data(), b.Length());
  }
  int osd = 0;
  if (kind == "osd") {
    char* end = nullptr;
    long v = std::strtol(target.c_str(), &end, 10);
    if (target.empty() || *end != '\0' || v < 0 || v > INT32_MAX) throw Napi::RangeError::New(info.Env(), "osd id must be a non-negative integer");
    osd = static_cast<int>(v);
  } else if (kind != "mgr" && kind != "mgrTarget" && kind != "pg" && kind != "monTarget") {
    ThrowType(info.Env(), "Unknown command kind: " + kind);
  }
  rados_t cluster = c->cluster();
  std::string op = "Rados." + kind + "Command";
  return RunAsync<CommandReply>(
      info.Env(), c, c->Ctx(op.c_str()),
      [cluster, kind, target, cmd, inbuf, osd](CommandReply& out) {
        const char* cmds[1] = {cmd.c_str()};
        char* outbuf = nullptr;
        size_t outbufLen = 0;
        char* outs = nullptr;
        size_t outsLen = 0;
        const char* in = inbuf.data();
        size_t inLen = inbuf.size();
        if (kind == "mgr") {
          out.rc = rados_mgr_command(cluster, cmds, 1, in, inLen, &outbuf, &outbufLen, &outs, &outsLen);
        } else if (kind == "mgrTarget") {
          out.rc = rados_mgr_command_target(cluster, target.c_str(), cmds, 1, in, inLen, &outbuf, &outbufLen, &outs,
                                            &outsLen);
        } else if (kind == "osd") {
          out.rc = rados_osd_command(cluster, osd, cmds, 1, in, inLen, &outbuf, &outbufLen, &outs, &outsLen);
        } else if (kind == "pg") {
          out.rc = rados_pg_command(cluster, target.c_str(), cmds, 1, in, inLen, &outbuf, &outbufLen, &outs, &outsLen);
        } else {
          out.rc = rados_mon_command_target(cluster, target.c_str(), cmds, 1, in, inLen, &outbuf, &outbufLen, &outs,
                                            &outsLen);
        }
        if (outbuf != nullptr) out.outbuf.assign(outbuf, outbufLen);
        if (outs != nullptr) out.outs.assign(outs, outsLen);
        rados_buffer_free(outbuf);
        rados_buffer_free(outs);
        return (out.rc == -ETIMEDOUT || out.rc == -ENOTCONN || out.rc == -ESHUTDOWN) ? out.rc : 0;
      },
      [](Napi::Env env, CommandReply& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("status", Napi::Number::New(env, r.rc));
        o.Set("outbuf", Napi::Buffer<char>::Copy(env, r.outbuf.data(), r.outbuf.size()));
        o.Set("outs", Napi::String::New(env, r.outs));
        return o;
      });
}

// blocklistAdd(cluster, address, expireSeconds): 0 = the cluster's default expiry.
// Implements: rados_blocklist_add
Napi::Value BlocklistAdd(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  std::string addr = ArgString(info, 1, "address");
  uint64_t expire = ArgU64(info, 2, "expireSeconds");
  if (expire > UINT32_MAX) throw Napi::RangeError::New(info.Env(), "expireSeconds is out of range");
  rados_t cluster = c->cluster();
  return RunAsyncVoid(info.Env(), c, c->Ctx("Rados.blocklistAdd"), [cluster, addr, expire] {
    std::string a = addr;
    return rados_blocklist_add(cluster, &a[0], static_cast<uint32_t>(expire));
  });
}

// pingMonitor(cluster, monId) -> the monitor's JSON health/status string
// Implements: rados_ping_monitor, rados_buffer_free
Napi::Value PingMonitor(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  std::string mon = ArgString(info, 1, "monId");
  rados_t cluster = c->cluster();
  return RunAsync<std::string>(
      info.Env(), c, c->Ctx("Rados.pingMonitor"),
      [cluster, mon](std::string& out) {
        char* s = nullptr;
        size_t len = 0;
        int rc = rados_ping_monitor(cluster, mon.c_str(), &s, &len);
        if (s != nullptr) out.assign(s, len);
        rados_buffer_free(s);
        return rc;
      },
      [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

// getAddrs(cluster) -> this client's addresses, e.g. "[v2:1.2.3.4:0/123,v1:...]"
// Implements: rados_getaddrs
Napi::Value GetAddrs(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  rados_t cluster = c->cluster();
  return RunAsync<std::string>(
      info.Env(), c, c->Ctx("Rados.getAddrs"),
      [cluster](std::string& out) {
        char* s = nullptr;
        int rc = rados_getaddrs(cluster, &s);
        if (s != nullptr) {
          out = s;
          std::free(s);  // strdup'ed by librados
        }
        return rc;
      },
      [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

// version() -> { major, minor, extra } of the loaded librados
// Implements: rados_version
Napi::Value Version(const Napi::CallbackInfo& info) {
  int major = 0, minor = 0, extra = 0;
  rados_version(&major, &minor, &extra);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("major", major);
  o.Set("minor", minor);
  o.Set("extra", extra);
  return o;
}

// poolGetBaseTier(cluster, poolId) -> the base pool of a cache tier (itself when none)
// Implements: rados_pool_get_base_tier
Napi::Value PoolGetBaseTier(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  int64_t pool = ArgI64(info, 1, "poolId");
  rados_t cluster = c->cluster();
  return RunAsync<int64_t>(
      info.Env(), c, c->Ctx("Rados.poolGetBaseTier", std::to_string(pool)),
      [cluster, pool](int64_t& out) { return rados_pool_get_base_tier(cluster, pool, &out); },
      [](Napi::Env env, int64_t& id) { return Napi::Number::New(env, static_cast<double>(id)); });
}

// minCompatibleClient(cluster) -> { minCompatClient, requireMinCompatClient, requireOsdRelease }
// (ceph release numbers, e.g. 12 = luminous)
// Implements: rados_get_min_compatible_client, rados_get_min_compatible_osd
Napi::Value MinCompatible(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  rados_t cluster = c->cluster();
  struct Out {
    int8_t min = 0, require = 0, osd = 0;
  };
  return RunAsync<Out>(
      info.Env(), c, c->Ctx("Rados.minCompatibleClient"),
      [cluster](Out& out) {
        int rc = rados_get_min_compatible_client(cluster, &out.min, &out.require);
        if (rc < 0) return rc;
        return rados_get_min_compatible_osd(cluster, &out.osd);
      },
      [](Napi::Env env, Out& o) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("minCompatClient", o.min);
        r.Set("requireMinCompatClient", o.require);
        r.Set("requireOsdRelease", o.osd);
        return r;
      });
}

// inconsistentPgs(cluster, poolId) -> ["1.2", ...]
// Implements: rados_inconsistent_pg_list
Napi::Value InconsistentPgs(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  int64_t pool = ArgI64(info, 1, "poolId");
  rados_t cluster = c->cluster();
  return RunAsync<std::vector<std::string>>(
      info.Env(), c, c->Ctx("Rados.inconsistentPgs", std::to_string(pool)),
      [cluster, pool](std::vector<std::string>& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 1024, [&](char* data, size_t* len) {
          int r = rados_inconsistent_pg_list(cluster, pool, data, *len);
          if (r >= 0 && static_cast<size_t>(r) > *len) {
            *len = static_cast<size_t>(r);
            return -ERANGE;
          }
          return r;
        });
        if (rc < 0) return rc;
        out = SplitNulList(buf.data(), static_cast<size_t>(rc) < buf.size() ? static_cast<size_t>(rc) : buf.size());
        return 0;
      },
      [](Napi::Env env, std::vector<std::string>& pgs) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, pgs.size());
        for (size_t k = 0; k < pgs.size(); ++k) arr.Set(static_cast<uint32_t>(k), pgs[k]);
        return arr;
      });
}

// createPoolWithRule(cluster, name, crushRule)
// Implements: rados_pool_create_with_crush_rule
Napi::Value CreatePoolWithRule(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  std::string name = ArgString(info, 1, "pool");
  uint64_t rule = ArgU64(info, 2, "crushRule");
  if (rule > 255) throw Napi::RangeError::New(info.Env(), "crushRule must be 0..255");
  rados_t cluster = c->cluster();
  return RunAsyncVoid(info.Env(), c, c->Ctx("Rados.createPool", name), [cluster, name, rule] {
    return rados_pool_create_with_crush_rule(cluster, name.c_str(), static_cast<uint8_t>(rule));
  });
}

// openIoctxById(cluster, poolId) -> IoCtx
// Implements: rados_ioctx_create2, rados_ioctx_get_pool_name
Napi::Value OpenIoctxById(const Napi::CallbackInfo& info) {
  RadosCluster* c = ArgCluster(info, 0);
  int64_t pool = ArgI64(info, 1, "poolId");
  rados_t cluster = c->cluster();
  struct Out {
    rados_ioctx_t io = nullptr;
    std::string name;
  };
  return RunAsync<Out>(
      info.Env(), c, c->Ctx("Rados.openIoctxById", std::to_string(pool)),
      [cluster, pool](Out& out) {
        int rc = rados_ioctx_create2(cluster, pool, &out.io);
        if (rc < 0) return rc;
        char name[512] = {0};
        rc = rados_ioctx_get_pool_name(out.io, name, sizeof(name) - 1);
        if (rc < 0) {
          rados_ioctx_destroy(out.io);
          return rc;
        }
        out.name = name;
        return 0;
      },
      [c](Napi::Env env, Out& out) -> Napi::Value { return IoCtx::Create(env, c, out.io, out.name, ""); });
}

// --- pool applications (per I/O context's pool) ---------------------------

// applicationEnable(ioctx, app, force)
// Implements: rados_application_enable
Napi::Value AppEnable(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string app = ArgString(info, 1, "app");
  int force = ArgBool(info, 2) ? 1 : 0;
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, io->Ctx("IoCtx.applicationEnable"),
                      [h, app, force] { return rados_application_enable(h, app.c_str(), force); });
}

// Runs a (buffer, &len) list call with grow-and-retry; NUL-separated names.
template <typename Fn>
int NulList(std::vector<std::string>& out, Fn fn) {
  std::vector<char> buf;
  size_t got = 0;
  int rc = GrowAndRetry(buf, 1024, [&](char* data, size_t* len) {
    int r = fn(data, len);
    got = *len;
    return r;
  });
  if (rc < 0) return rc;
  out = SplitNulList(buf.data(), got < buf.size() ? got : buf.size());
  return 0;
}

// applicationList(ioctx) -> names
// Implements: rados_application_list
Napi::Value AppList(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  rados_ioctx_t h = io->io();
  return RunAsync<std::vector<std::string>>(
      info.Env(), io, io->Ctx("IoCtx.applicationList"),
      [h](std::vector<std::string>& out) {
        return NulList(out, [&](char* data, size_t* len) { return rados_application_list(h, data, len); });
      },
      [](Napi::Env env, std::vector<std::string>& names) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, names.size());
        for (size_t k = 0; k < names.size(); ++k) arr.Set(static_cast<uint32_t>(k), names[k]);
        return arr;
      });
}

// applicationMetadataGet(ioctx, app, key) -> value
// Implements: rados_application_metadata_get
Napi::Value AppMetaGet(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string app = ArgString(info, 1, "app");
  std::string key = ArgString(info, 2, "key");
  rados_ioctx_t h = io->io();
  return RunAsync<std::string>(
      info.Env(), io, io->Ctx("IoCtx.applicationMetadataGet"),
      [h, app, key](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 256, [&](char* data, size_t* len) {
          return rados_application_metadata_get(h, app.c_str(), key.c_str(), data, len);
        });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      [](Napi::Env env, std::string& v) { return Napi::String::New(env, v); });
}

// applicationMetadataSet(ioctx, app, key, value)
// Implements: rados_application_metadata_set
Napi::Value AppMetaSet(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string app = ArgString(info, 1, "app");
  std::string key = ArgString(info, 2, "key");
  std::string value = ArgString(info, 3, "value");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, io->Ctx("IoCtx.applicationMetadataSet"), [h, app, key, value] {
    return rados_application_metadata_set(h, app.c_str(), key.c_str(), value.c_str());
  });
}

// applicationMetadataRemove(ioctx, app, key)
// Implements: rados_application_metadata_remove
Napi::Value AppMetaRemove(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string app = ArgString(info, 1, "app");
  std::string key = ArgString(info, 2, "key");
  rados_ioctx_t h = io->io();
  return RunAsyncVoid(info.Env(), io, io->Ctx("IoCtx.applicationMetadataRemove"), [h, app, key] {
    return rados_application_metadata_remove(h, app.c_str(), key.c_str());
  });
}

// applicationMetadataList(ioctx, app) -> [[key, value]]
// Implements: rados_application_metadata_list
Napi::Value AppMetaList(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string app = ArgString(info, 1, "app");
  rados_ioctx_t h = io->io();
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  return RunAsync<Pairs>(
      info.Env(), io, io->Ctx("IoCtx.applicationMetadataList"),
      [h, app](Pairs& out) {
        size_t keyCap = 1024, valCap = 1024;
        for (int attempt = 0; attempt < 16; ++attempt) {
          std::vector<char> keys(keyCap), vals(valCap);
          size_t keyLen = keyCap, valLen = valCap;
          int rc = rados_application_metadata_list(h, app.c_str(), keys.data(), &keyLen, vals.data(), &valLen);
          if (rc == -ERANGE) {
            keyCap = keyLen > keyCap ? keyLen : keyCap * 2;
            valCap = valLen > valCap ? valLen : valCap * 2;
            continue;
          }
          if (rc < 0) return rc;
          std::vector<std::string> k = SplitNulList(keys.data(), keyLen);
          std::vector<std::string> v = SplitNulList(vals.data(), valLen);
          for (size_t i = 0; i < k.size(); ++i) out.emplace_back(k[i], i < v.size() ? v[i] : std::string());
          return 0;
        }
        return -ERANGE;
      },
      [](Napi::Env env, Pairs& pairs) -> Napi::Value { return StringPairsToArray(env, pairs); });
}

// poolAlignment(ioctx) -> required write alignment of the pool (0: none; EC pools without overwrites)
// Implements: rados_ioctx_pool_requires_alignment2, rados_ioctx_pool_required_alignment2
Napi::Value PoolAlignment(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  rados_ioctx_t h = io->io();
  return RunAsync<uint64_t>(
      info.Env(), io, io->Ctx("IoCtx.poolAlignment"),
      [h](uint64_t& out) {
        int requires = 0;
        uint64_t alignment = 0;
        int rc = rados_ioctx_pool_requires_alignment2(h, &requires);
        if (rc == 0) rc = rados_ioctx_pool_required_alignment2(h, &alignment);
        out = requires ? alignment : 0;
        return rc;
      },
      [](Napi::Env env, uint64_t& a) { return Napi::Number::New(env, static_cast<double>(a)); });
}

// setLocatorKey(ioctx, key | null): later object operations of this
// context place objects by `key` instead of their name. Local state.
// Implements: rados_ioctx_locator_set_key
Napi::Value SetLocatorKey(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  std::string key = ArgOptString(info, 1, "key");
  if (!io->IsOpen()) ThrowClosed(info.Env(), "IoCtx.setLocatorKey", io);
  rados_ioctx_locator_set_key(io->io(), key.empty() ? nullptr : key.c_str());
  return info.Env().Undefined();
}

}  // namespace

void InitRadosCommands(Napi::Env env, Napi::Object ns) {
  auto fn = [&](const char* name, Napi::Value (*cb)(const Napi::CallbackInfo&)) {
    ns.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("command", Command);
  fn("blocklistAdd", BlocklistAdd);
  fn("pingMonitor", PingMonitor);
  fn("getAddrs", GetAddrs);
  fn("version", Version);
  fn("poolGetBaseTier", PoolGetBaseTier);
  fn("minCompatibleClient", MinCompatible);
  fn("inconsistentPgs", InconsistentPgs);
  fn("createPoolWithRule", CreatePoolWithRule);
  fn("openIoctxById", OpenIoctxById);
  fn("applicationEnable", AppEnable);
  fn("applicationList", AppList);
  fn("applicationMetadataGet", AppMetaGet);
  fn("applicationMetadataSet", AppMetaSet);
  fn("applicationMetadataRemove", AppMetaRemove);
  fn("applicationMetadataList", AppMetaList);
  fn("poolAlignment", PoolAlignment);
  fn("setLocatorKey", SetLocatorKey);
}

}  // namespace cephrbd
