// RBD mirroring, pool and cluster level: site name, pool mirror mode, the
// pool's mirror uuid, peer bootstrap tokens, peer sites and their attributes.
#include "rbd_mirror.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/args.h"
#include "common/pairs.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_cluster.h"
#include "rados_ioctx.h"
#include "rbd_ext.h"

namespace cephrbd {

const char* MirrorImageModeName(rbd_mirror_image_mode_t mode) {
  return mode == RBD_MIRROR_IMAGE_MODE_SNAPSHOT ? "snapshot" : "journal";
}

const char* MirrorImageStateName(rbd_mirror_image_state_t state) {
  switch (state) {
    case RBD_MIRROR_IMAGE_DISABLING: return "disabling";
    case RBD_MIRROR_IMAGE_ENABLED: return "enabled";
    default: return "disabled";
  }
}

const char* MirrorStatusStateName(rbd_mirror_image_status_state_t state) {
  switch (state) {
    case MIRROR_IMAGE_STATUS_STATE_ERROR: return "error";
    case MIRROR_IMAGE_STATUS_STATE_SYNCING: return "syncing";
    case MIRROR_IMAGE_STATUS_STATE_STARTING_REPLAY: return "starting_replay";
    case MIRROR_IMAGE_STATUS_STATE_REPLAYING: return "replaying";
    case MIRROR_IMAGE_STATUS_STATE_STOPPING_REPLAY: return "stopping_replay";
    case MIRROR_IMAGE_STATUS_STATE_STOPPED: return "stopped";
    default: return "unknown";
  }
}

MirrorInfo CopyMirrorInfo(const rbd_mirror_image_info_t& info) {
  return {info.global_id != nullptr ? info.global_id : "", info.state, info.primary};
}

Napi::Object MirrorInfoToJs(Napi::Env env, const MirrorInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("globalId", info.globalId);
  o.Set("state", MirrorImageStateName(info.state));
  o.Set("primary", info.primary);
  return o;
}

MirrorGlobalStatus CopyGlobalStatus(const rbd_mirror_image_global_status_t& status) {
  MirrorGlobalStatus out;
  out.name = status.name != nullptr ? status.name : "";
  out.info = CopyMirrorInfo(status.info);
  for (uint32_t i = 0; i < status.site_statuses_count; ++i) {
    const rbd_mirror_image_site_status_t& s = status.site_statuses[i];
    out.sites.push_back({s.mirror_uuid != nullptr ? s.mirror_uuid : "", s.state,
                         s.description != nullptr ? s.description : "", static_cast<int64_t>(s.last_update), s.up});
  }
  return out;
}

Napi::Object GlobalStatusToJs(Napi::Env env, const MirrorGlobalStatus& status) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", status.name);
  o.Set("info", MirrorInfoToJs(env, status.info));
  Napi::Array sites = Napi::Array::New(env, status.sites.size());
  for (size_t i = 0; i < status.sites.size(); ++i) {
    const MirrorSiteStatus& s = status.sites[i];
    Napi::Object so = Napi::Object::New(env);
    so.Set("mirrorUuid", s.mirrorUuid);
    so.Set("state", MirrorStatusStateName(s.state));
    so.Set("description", s.description);
    so.Set("lastUpdateMs", Napi::Number::New(env, static_cast<double>(s.lastUpdate) * 1000.0));
    so.Set("up", s.up);
    sites.Set(static_cast<uint32_t>(i), so);
  }
  o.Set("siteStatuses", sites);
  return o;
}

namespace {

struct PoolArgs {
  IoCtx* ioctx;
  rados_ioctx_t io;
  ErrorContext ctx;
};

PoolArgs ReadPool(const Napi::CallbackInfo& info, const char* op) {
  IoCtx* ioctx = IoCtx::FromValue(info.Env(), info[0]);
  return {ioctx, ioctx->io(), ioctx->Ctx(op, "rbd")};
}

// A C string result of a call that answers -ERANGE with the length it needs.
int GetString(std::string& out, size_t initial, const std::function<int(char*, size_t*)>& fn) {
  std::vector<char> buf;
  int rc = GrowAndRetry(buf, initial, [&](char* data, size_t* len) { return fn(data, len); });
  if (rc < 0) return rc;
  out.assign(buf.data(), strnlen(buf.data(), buf.size()));
  return 0;
}

Napi::Value StringValue(Napi::Env env, std::string& s) { return Napi::String::New(env, s); }

// A direction or mode number from lib/rbd-mirror.ts (already validated there).
uint32_t ArgEnum(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t max) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string("Expected a number for ") + name);
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > max || static_cast<double>(static_cast<uint32_t>(d)) != d) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " is out of range");
  }
  return static_cast<uint32_t>(d);
}

struct Peer {
  std::string uuid, siteName, mirrorUuid, clientName;
  rbd_mirror_peer_direction_t direction;
  int64_t lastSeen;
};

const char* DirectionName(rbd_mirror_peer_direction_t d) {
  return d == RBD_MIRROR_PEER_DIRECTION_RX ? "rx-only" : d == RBD_MIRROR_PEER_DIRECTION_TX ? "tx-only" : "rx-tx";
}

}  // namespace

// siteNameGet(cluster) -> string (the fsid when no name was set)
// Implements: rbd_mirror_site_name_get
static Napi::Value SiteNameGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RadosCluster* cluster = RadosCluster::FromValue(env, info[0]);
  ErrorContext ctx = cluster->Ctx("Mirror.getSiteName");
  ctx.family = "rbd";
  rados_t c = cluster->cluster();
  return RunAsync<std::string>(
      env, cluster, ctx,
      [c](std::string& out) { return GetString(out, 64, [c](char* d, size_t* l) { return rbd_mirror_site_name_get(c, d, l); }); },
      StringValue);
}

// siteNameSet(cluster, name): '' resets it to the fsid.
// Implements: rbd_mirror_site_name_set
static Napi::Value SiteNameSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RadosCluster* cluster = RadosCluster::FromValue(env, info[0]);
  std::string name = ArgOptString(info, 1, "name");
  ErrorContext ctx = cluster->Ctx("Mirror.setSiteName");
  ctx.family = "rbd";
  rados_t c = cluster->cluster();
  return RunAsyncVoid(env, cluster, ctx, [c, name] { return rbd_mirror_site_name_set(c, name.c_str()); });
}

// Implements: rbd_mirror_mode_get
static Napi::Value ModeGet(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.getMode");
  return RunAsync<rbd_mirror_mode_t>(
      info.Env(), p.ioctx, p.ctx, [io = p.io](rbd_mirror_mode_t& out) { return rbd_mirror_mode_get(io, &out); },
      [](Napi::Env env, rbd_mirror_mode_t& m) -> Napi::Value {
        return Napi::String::New(env, m == RBD_MIRROR_MODE_IMAGE ? "image" : m == RBD_MIRROR_MODE_POOL ? "pool" : "disabled");
      });
}

// modeSet(ioctx, mode: 0 disabled | 1 image | 2 pool)
// Implements: rbd_mirror_mode_set
static Napi::Value ModeSet(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.setMode");
  auto mode = static_cast<rbd_mirror_mode_t>(ArgEnum(info, 1, "mode", RBD_MIRROR_MODE_POOL));
  return RunAsyncVoid(info.Env(), p.ioctx, p.ctx, [io = p.io, mode] { return rbd_mirror_mode_set(io, mode); });
}

// Implements: rbd_mirror_uuid_get
static Napi::Value UuidGet(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.getUuid");
  return RunAsync<std::string>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io](std::string& out) { return GetString(out, 64, [io](char* d, size_t* l) { return rbd_mirror_uuid_get(io, d, l); }); },
      StringValue);
}

// peerBootstrapCreate(ioctx) -> token (base64 JSON: fsid, client id, key, mon_host)
// Implements: rbd_mirror_peer_bootstrap_create
static Napi::Value PeerBootstrapCreate(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.bootstrapCreate");
  return RunAsync<std::string>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io](std::string& out) {
        return GetString(out, 1024, [io](char* d, size_t* l) { return rbd_mirror_peer_bootstrap_create(io, d, l); });
      },
      StringValue);
}

// peerBootstrapImport(ioctx, direction: 0 rx-only | 2 rx-tx, token)
// Implements: rbd_mirror_peer_bootstrap_import
static Napi::Value PeerBootstrapImport(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.bootstrapImport");
  auto dir = static_cast<rbd_mirror_peer_direction_t>(ArgEnum(info, 1, "direction", RBD_MIRROR_PEER_DIRECTION_RX_TX));
  std::string token = ArgString(info, 2, "token");
  return RunAsyncVoid(info.Env(), p.ioctx, p.ctx,
                      [io = p.io, dir, token] { return rbd_mirror_peer_bootstrap_import(io, dir, token.c_str()); });
}

// peerSiteAdd(ioctx, direction, siteName, clientName) -> uuid
// Implements: rbd_mirror_peer_site_add
static Napi::Value PeerSiteAdd(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.addPeer");
  auto dir = static_cast<rbd_mirror_peer_direction_t>(ArgEnum(info, 1, "direction", RBD_MIRROR_PEER_DIRECTION_RX_TX));
  std::string site = ArgString(info, 2, "siteName");
  std::string client = ArgString(info, 3, "clientName");
  p.ctx.object = site;
  return RunAsync<std::string>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io, dir, site, client](std::string& out) {
        char uuid[128] = {0};
        int rc = rbd_mirror_peer_site_add(io, uuid, sizeof(uuid), dir, site.c_str(), client.c_str());
        if (rc < 0) return rc;
        out.assign(uuid, strnlen(uuid, sizeof(uuid)));
        return 0;
      },
      StringValue);
}

// Implements: rbd_mirror_peer_site_remove
static Napi::Value PeerSiteRemove(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.removePeer");
  std::string uuid = ArgString(info, 1, "uuid");
  p.ctx.object = uuid;
  return RunAsyncVoid(info.Env(), p.ioctx, p.ctx, [io = p.io, uuid] { return rbd_mirror_peer_site_remove(io, uuid.c_str()); });
}

// peerSiteSet(ioctx, uuid, what: 'name' | 'client' | 'direction', value)
// Implements: rbd_mirror_peer_site_set_name, rbd_mirror_peer_site_set_client_name,
// rbd_mirror_peer_site_set_direction
static Napi::Value PeerSiteSet(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.setPeer");
  std::string uuid = ArgString(info, 1, "uuid");
  std::string what = ArgString(info, 2, "what");
  p.ctx.object = uuid;
  if (what == "direction") {
    auto dir = static_cast<rbd_mirror_peer_direction_t>(ArgEnum(info, 3, "direction", RBD_MIRROR_PEER_DIRECTION_RX_TX));
    p.ctx.op = "Mirror.setPeerDirection";
    return RunAsyncVoid(info.Env(), p.ioctx, p.ctx,
                        [io = p.io, uuid, dir] { return rbd_mirror_peer_site_set_direction(io, uuid.c_str(), dir); });
  }
  if (what != "name" && what != "client") ThrowType(info.Env(), "Expected 'name', 'client' or 'direction' for what");
  std::string value = ArgString(info, 3, "value");
  bool name = what == "name";
  p.ctx.op = name ? "Mirror.setPeerSiteName" : "Mirror.setPeerClient";
  return RunAsyncVoid(info.Env(), p.ioctx, p.ctx, [io = p.io, uuid, value, name] {
    return name ? rbd_mirror_peer_site_set_name(io, uuid.c_str(), value.c_str())
                : rbd_mirror_peer_site_set_client_name(io, uuid.c_str(), value.c_str());
  });
}

// peerSiteList(ioctx) -> [{ uuid, direction, siteName, mirrorUuid, clientName, lastSeenMs }]
// Implements: rbd_mirror_peer_site_list, rbd_mirror_peer_site_list_cleanup
static Napi::Value PeerSiteList(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.listPeers");
  return RunAsync<std::vector<Peer>>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io](std::vector<Peer>& out) {
        std::vector<rbd_mirror_peer_site_t> peers;
        int count = 0;
        int rc = GrowAndRetry(peers, 8, [&](rbd_mirror_peer_site_t* data, size_t* len) {
          count = static_cast<int>(*len);
          int r = rbd_mirror_peer_site_list(io, data, &count);
          if (r == -ERANGE) *len = static_cast<size_t>(count);
          return r;
        });
        if (rc < 0) return rc;
        for (int i = 0; i < count; ++i) {
          const rbd_mirror_peer_site_t& s = peers[i];
          auto str = [](const char* c) { return std::string(c != nullptr ? c : ""); };
          out.push_back({str(s.uuid), str(s.site_name), str(s.mirror_uuid), str(s.client_name), s.direction,
                         static_cast<int64_t>(s.last_seen)});
        }
        rbd_mirror_peer_site_list_cleanup(peers.data(), count);
        return 0;
      },
      [](Napi::Env env, std::vector<Peer>& list) -> Napi::Value {
        Napi::Array arr = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("uuid", list[i].uuid);
          o.Set("direction", DirectionName(list[i].direction));
          o.Set("siteName", list[i].siteName);
          o.Set("mirrorUuid", list[i].mirrorUuid);
          o.Set("clientName", list[i].clientName);
          o.Set("lastSeenMs", Napi::Number::New(env, static_cast<double>(list[i].lastSeen) * 1000.0));
          arr.Set(static_cast<uint32_t>(i), o);
        }
        return arr;
      });
}

// peerSiteGetAttributes(ioctx, uuid) -> [[key, value]] (mon_host, key)
// Implements: rbd_mirror_peer_site_get_attributes
static Napi::Value PeerSiteGetAttributes(const Napi::CallbackInfo& info) {
  PoolArgs p = ReadPool(info, "Mirror.getPeerAttributes");
  std::string uuid = ArgString(info, 1, "uuid");
  p.ctx.object = uuid;
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  return RunAsync<Pairs>(
      info.Env(), p.ioctx, p.ctx,
      [io = p.io, uuid](Pairs& out) {
        std::vector<char> keys(1024), values(1024);
        size_t count = 0;
        for (int attempt = 0;; ++attempt) {
          size_t klen = keys.size(), vlen = values.size();
          int rc = rbd_mirror_peer_site_get_attributes(io, uuid.c_str(), keys.data(), &klen, values.data(), &vlen, &count);
          if (rc == -ERANGE && attempt < 16) {
            keys.resize(std::max(klen, keys.size() * 2));
            values.resize(std::max(vlen, values.size() * 2));
            continue;
          }
          if (rc < 0) return rc;
          // An empty value would end a NUL list early: walk both by count.
          klen = std::min(klen, keys.size());
          vlen = std::min(vlen, values.size());
          size_t ko = 0, vo = 0;
          for (size_t i = 0; i < count && ko < klen && vo < vlen; ++i) {
            std::string key(keys.data() + ko, strnlen(keys.data() + ko, klen - ko));
            std::string value(values.data() + vo, strnlen(values.data() + vo, vlen - vo));
            ko += key.size() + 1;
            vo += value.size() + 1;
            out.emplace_back(std::move(key), std::move(value));
          }
          return 0;
        }
      },
      [](Napi::Env env, Pairs& pairs) -> Napi::Value { return StringPairsToArray(env, pairs); });
}

// peerSiteSetAttributes(ioctx, uuid, keys[], values[]): replaces them all.
// Implements: rbd_mirror_peer_site_set_attributes
static Napi::Value PeerSiteSetAttributes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PoolArgs p = ReadPool(info, "Mirror.setPeerAttributes");
  std::string uuid = ArgString(info, 1, "uuid");
  if (!info[2].IsArray() || !info[3].IsArray()) ThrowType(env, "Expected arrays of keys and values");
  Napi::Array ka = info[2].As<Napi::Array>(), va = info[3].As<Napi::Array>();
  if (ka.Length() != va.Length()) ThrowType(env, "Expected as many values as keys");
  std::string keys, values;
  for (uint32_t i = 0; i < ka.Length(); ++i) {
    Napi::Value k = ka.Get(i), v = va.Get(i);
    if (!k.IsString() || !v.IsString()) ThrowType(env, "Expected string keys and values");
    std::string ks = k.As<Napi::String>().Utf8Value(), vs = v.As<Napi::String>().Utf8Value();
    if (ks.empty() || ks.find('\0') != std::string::npos || vs.find('\0') != std::string::npos) {
      ThrowType(env, "Expected non-empty keys and values without NUL characters");
    }
    keys.append(ks).push_back('\0');
    values.append(vs).push_back('\0');
  }
  size_t count = ka.Length();
  p.ctx.object = uuid;
  return RunAsyncVoid(env, p.ioctx, p.ctx, [io = p.io, uuid, keys, values, count] {
    return rbd_mirror_peer_site_set_attributes(io, uuid.c_str(), keys.data(), values.data(), count);
  });
}

void InitRbdMirror(Napi::Env env, Napi::Object exports) {
  Napi::Object m = Napi::Object::New(env);
  SetFn(env, m, "siteNameGet", SiteNameGet);
  SetFn(env, m, "siteNameSet", SiteNameSet);
  SetFn(env, m, "modeGet", ModeGet);
  SetFn(env, m, "modeSet", ModeSet);
  SetFn(env, m, "uuidGet", UuidGet);
  SetFn(env, m, "peerBootstrapCreate", PeerBootstrapCreate);
  SetFn(env, m, "peerBootstrapImport", PeerBootstrapImport);
  SetFn(env, m, "peerSiteAdd", PeerSiteAdd);
  SetFn(env, m, "peerSiteRemove", PeerSiteRemove);
  SetFn(env, m, "peerSiteSet", PeerSiteSet);
  SetFn(env, m, "peerSiteList", PeerSiteList);
  SetFn(env, m, "peerSiteGetAttributes", PeerSiteGetAttributes);
  SetFn(env, m, "peerSiteSetAttributes", PeerSiteSetAttributes);
  // librbd.h's values; lib/rbd-mirror.ts mirrors them and a test compares.
  Napi::Object c = Napi::Object::New(env);
  c.Set("RBD_MIRROR_MODE_DISABLED", static_cast<double>(RBD_MIRROR_MODE_DISABLED));
  c.Set("RBD_MIRROR_MODE_IMAGE", static_cast<double>(RBD_MIRROR_MODE_IMAGE));
  c.Set("RBD_MIRROR_MODE_POOL", static_cast<double>(RBD_MIRROR_MODE_POOL));
  c.Set("RBD_MIRROR_PEER_DIRECTION_RX", static_cast<double>(RBD_MIRROR_PEER_DIRECTION_RX));
  c.Set("RBD_MIRROR_PEER_DIRECTION_TX", static_cast<double>(RBD_MIRROR_PEER_DIRECTION_TX));
  c.Set("RBD_MIRROR_PEER_DIRECTION_RX_TX", static_cast<double>(RBD_MIRROR_PEER_DIRECTION_RX_TX));
  c.Set("RBD_MIRROR_IMAGE_MODE_JOURNAL", static_cast<double>(RBD_MIRROR_IMAGE_MODE_JOURNAL));
  c.Set("RBD_MIRROR_IMAGE_MODE_SNAPSHOT", static_cast<double>(RBD_MIRROR_IMAGE_MODE_SNAPSHOT));
  m.Set("constants", c);
  AddMirrorListFunctions(env, m);
  AddMirrorImageFunctions(env, m);
  exports.Set("rbdMirror", m);
}

}  // namespace cephrbd
