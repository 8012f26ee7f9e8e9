// Live migration: prepare (from an image, or import from a source spec),
// execute, commit, abort, status. While migrating, the destination image
// can be opened, read and written; execute copies the blocks in the
// background of those clients.
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/args.h"
#include "common/progress.h"
#include "common/retry.h"
#include "common/worker.h"
#include "rados_ioctx.h"
#include "rbd_admin.h"
#include "rbd_ext.h"
#include "rbd_image.h"

namespace cephrbd {

// migrationPrepare(srcIoctx, srcName, dstIoctx, dstName, options)
// Implements: rbd_migration_prepare
static Napi::Value MigrationPrepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* src = IoCtx::FromValue(env, info[0]);
  std::string srcName = ArgString(info, 1, "srcName");
  IoCtx* dst = IoCtx::FromValue(env, info[2]);
  std::string dstName = ArgString(info, 3, "dstName");
  ImageOptions o = ReadImageOptions(env, info[4]);
  ErrorContext ctx = ImageCtx(src, "Migration.prepare", srcName);
  std::shared_ptr<void> ref = EnterSecondHandle(env, dst);
  if (!ref) return RejectClosed(env, ctx, dst);
  rados_ioctx_t sio = src->io();
  rados_ioctx_t dio = dst->io();
  return RunAsyncVoid(env, src, ctx, [ref, sio, dio, srcName, dstName, o] {
    return WithImageOptions(o, [&](rbd_image_options_t opts) {
      return rbd_migration_prepare(sio, srcName.c_str(), dio, dstName.c_str(), opts);
    });
  });
}

// migrationPrepareImport(sourceSpecJson, dstIoctx, dstName, options)
// Implements: rbd_migration_prepare_import
static Napi::Value MigrationPrepareImport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string spec = ArgString(info, 0, "sourceSpec");
  IoCtx* dst = IoCtx::FromValue(env, info[1]);
  std::string dstName = ArgString(info, 2, "dstName");
  ImageOptions o = ReadImageOptions(env, info[3]);
  rados_ioctx_t dio = dst->io();
  return RunAsyncVoid(env, dst, ImageCtx(dst, "Migration.prepareImport", dstName), [dio, spec, dstName, o] {
    return WithImageOptions(o, [&](rbd_image_options_t opts) {
      return rbd_migration_prepare_import(spec.c_str(), dio, dstName.c_str(), opts);
    });
  });
}

// execute/commit/abort(ioctx, name, onProgress?, cancel?): `name` is the
// image in either pool (librbd resolves the migration from it).
// Implements: rbd_migration_execute, rbd_migration_execute_with_progress
static Napi::Value MigrationExecute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ImageCtx(ioctx, "Migration.execute", name), info[2], info[3],
      [io, name] { return rbd_migration_execute(io, name.c_str()); },
      [io, name](librbd_progress_fn_t fn, void* arg) {
        return rbd_migration_execute_with_progress(io, name.c_str(), fn, arg);
      });
}

// Implements: rbd_migration_commit, rbd_migration_commit_with_progress
static Napi::Value MigrationCommit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ImageCtx(ioctx, "Migration.commit", name), info[2], info[3],
      [io, name] { return rbd_migration_commit(io, name.c_str()); },
      [io, name](librbd_progress_fn_t fn, void* arg) {
        return rbd_migration_commit_with_progress(io, name.c_str(), fn, arg);
      });
}

// Implements: rbd_migration_abort, rbd_migration_abort_with_progress
static Napi::Value MigrationAbort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunPlainOrProgress(
      env, ioctx, ImageCtx(ioctx, "Migration.abort", name), info[2], info[3],
      [io, name] { return rbd_migration_abort(io, name.c_str()); },
      [io, name](librbd_progress_fn_t fn, void* arg) {
        return rbd_migration_abort_with_progress(io, name.c_str(), fn, arg);
      });
}

namespace {
struct MigrationStatus {
  int64_t sourcePoolId, destPoolId;
  std::string sourceNamespace, sourceImage, sourceImageId, destNamespace, destImage, destImageId;
  int state;
  std::string description;
};

const char* StateName(int s) {
  switch (s) {
    case RBD_IMAGE_MIGRATION_STATE_ERROR: return "error";
    case RBD_IMAGE_MIGRATION_STATE_PREPARING: return "preparing";
    case RBD_IMAGE_MIGRATION_STATE_PREPARED: return "prepared";
    case RBD_IMAGE_MIGRATION_STATE_EXECUTING: return "executing";
    case RBD_IMAGE_MIGRATION_STATE_EXECUTED: return "executed";
    case RBD_IMAGE_MIGRATION_STATE_ABORTING: return "aborting";
    default: return "unknown";
  }
}
}  // namespace

// migrationStatus(ioctx, name) -> { source*, dest*, state, description }
// Implements: rbd_migration_status, rbd_migration_status_cleanup
static Napi::Value MigrationStatusFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoCtx* ioctx = IoCtx::FromValue(env, info[0]);
  std::string name = ArgString(info, 1, "name");
  rados_ioctx_t io = ioctx->io();
  return RunAsync<MigrationStatus>(
      env, ioctx, ImageCtx(ioctx, "Migration.status", name),
      [io, name](MigrationStatus& out) {
        rbd_image_migration_status_t s{};
        int rc = rbd_migration_status(io, name.c_str(), &s, sizeof(s));
        if (rc < 0) return rc;
        auto str = [](const char* p) { return std::string(p != nullptr ? p : ""); };
        out = {s.source_pool_id, s.dest_pool_id, str(s.source_pool_namespace), str(s.source_image_name),
               str(s.source_image_id), str(s.dest_pool_namespace), str(s.dest_image_name),
               str(s.dest_image_id), static_cast<int>(s.state), str(s.state_description)};
        rbd_migration_status_cleanup(&s);
        return 0;
      },
      [](Napi::Env env, MigrationStatus& s) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("sourcePoolId", Napi::Number::New(env, static_cast<double>(s.sourcePoolId)));
        o.Set("sourceNamespace", s.sourceNamespace);
        o.Set("sourceImage", s.sourceImage);
        o.Set("sourceImageId", s.sourceImageId);
        o.Set("destPoolId", Napi::Number::New(env, static_cast<double>(s.destPoolId)));
        o.Set("destNamespace", s.destNamespace);
        o.Set("destImage", s.destImage);
        o.Set("destImageId", s.destImageId);
        o.Set("state", StateName(s.state));
        o.Set("description", s.description);
        return o;
      });
}

// imageMigrationSourceSpec(image) -> JSON string: the source of a migration
// whose destination this image is; EINVAL when it is not migrating.
// Implements: rbd_get_migration_source_spec
static Napi::Value MigrationSourceSpec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Image* image = Image::FromValue(env, info[0]);
  rbd_image_t img = image->image();
  return RunAsync<std::string>(
      env, image, image->Ctx("Image.migrationSourceSpec"),
      [img](std::string& out) {
        std::vector<char> buf;
        int rc = GrowAndRetry(buf, 1024, [&](char* data, size_t* len) {
          return rbd_get_migration_source_spec(img, data, len);
        });
        if (rc < 0) return rc;
        out.assign(buf.data(), strnlen(buf.data(), buf.size()));
        return 0;
      },
      [](Napi::Env env, std::string& v) { return Napi::String::New(env, v); });
}

void AddMigrationFunctions(Napi::Env env, Napi::Object rbdx) {
  SetFn(env, rbdx, "migrationPrepare", MigrationPrepare);
  SetFn(env, rbdx, "migrationPrepareImport", MigrationPrepareImport);
  SetFn(env, rbdx, "migrationExecute", MigrationExecute);
  SetFn(env, rbdx, "migrationCommit", MigrationCommit);
  SetFn(env, rbdx, "migrationAbort", MigrationAbort);
  SetFn(env, rbdx, "migrationStatus", MigrationStatusFn);
  SetFn(env, rbdx, "imageMigrationSourceSpec", MigrationSourceSpec);
}

}  // namespace cephrbd
