// Object listing with a cursor, page by page, in one namespace or across all
// of them. An ObjectLister is a Handle under its IoCtx: it owns a private
// I/O context on the same pool (so LIBRADOS_ALL_NSPACES never changes the
// caller's context) and the librados cursors; close() (or closing the IoCtx)
// frees them on a worker.
#include <cerrno>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/worker.h"
#include "common/wrap.h"
#include "rados_ext.h"

namespace cephrbd {

namespace {

const napi_type_tag kListerTag = {0x6b3f2a1c9d4e4f06ULL, 0xa1b2c3d4e5f6071dULL};

struct ListerState {
  rados_ioctx_t io = nullptr;
  rados_object_list_cursor cursor = nullptr;
  rados_object_list_cursor end = nullptr;
};

struct ListerPayload {
  IoCtx* parent;
  ListerState state;
};

struct Listed {
  std::string nspace, oid, locator;
};

class ObjectLister : public Napi::ObjectWrap<ObjectLister>, public Handle {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ObjectLister",
                       {InstanceMethod<&ObjectLister::Next>("next"), InstanceMethod<&ObjectLister::Close>("close"),
                        InstanceAccessor<&ObjectLister::State>("state")});
  }

  explicit ObjectLister(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ObjectLister>(info), Handle(info.Env(), "object lister") {
    if (!IsFromAddon(info)) ThrowType(info.Env(), "ObjectLister cannot be constructed directly; use ioctx.objects()");
    std::unique_ptr<ListerPayload> p(info[1].As<Napi::External<ListerPayload>>().Data());
    st_ = p->state;
    pool_ = p->parent->pool();
    parentRef_ = Napi::Persistent(p->parent->JsObject());
    TagObject(info.Env(), Value(), kListerTag);
    AttachTo(p->parent);
  }
  ~ObjectLister() override { ForgetOnCollect(); }
  Napi::Object JsObject() override { return Value(); }

 private:
  // Implements: rados_object_list_cursor_free, rados_ioctx_destroy
  std::function<void()> TakeRelease() override {
    ListerState st = st_;
    st_ = ListerState();
    if (st.io == nullptr) return nullptr;
    return [st] {
      if (st.cursor != nullptr) rados_object_list_cursor_free(st.io, st.cursor);
      if (st.end != nullptr) rados_object_list_cursor_free(st.io, st.end);
      rados_ioctx_destroy(st.io);
    };
  }
  void OnClosed() override { parentRef_.Reset(); }

  // next(max) -> { entries: [{ namespace, oid, locator }], done }. A page
  // can hold fewer than `max` entries (even none) before the end.
  // Implements: rados_object_list, rados_object_list_free, rados_object_list_is_end,
  // rados_object_list_cursor_cmp
  Napi::Value Next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t max = ArgU64(info, 0, "max");
    if (max == 0 || max > 100000) throw Napi::RangeError::New(env, "max must be 1..100000");
    ErrorContext ctx;
    ctx.op = "ObjectLister.next";
    ctx.family = "rados";
    ctx.pool = pool_;
    if (busy_) throw Napi::Error::New(env, "ObjectLister.next: a page is already being read");
    ListerState* st = &st_;
    struct Page {
      std::vector<Listed> entries;
      bool done = false;
      int rc = 0;
    };
    busy_ = true;
    bool* busy = &busy_;
    return RunAsync<Page>(
        env, this, ctx,
        [st, max](Page& out) {
          out.rc = ReadPage(st, max, &out.entries, &out.done);
          return 0;  // settled below, after `busy` is cleared
        },
        [busy, ctx](Napi::Env e, Page& page) -> Napi::Value {
          *busy = false;
          if (page.rc < 0) throw Napi::Error(e, MakeCephError(e, page.rc, ctx));
          Napi::Array arr = Napi::Array::New(e, page.entries.size());
          for (size_t k = 0; k < page.entries.size(); ++k) {
            Napi::Object o = Napi::Object::New(e);
            o.Set("namespace", page.entries[k].nspace);
            o.Set("oid", page.entries[k].oid);
            o.Set("locator", page.entries[k].locator);
            arr.Set(static_cast<uint32_t>(k), o);
          }
          Napi::Object r = Napi::Object::New(e);
          r.Set("entries", arr);
          r.Set("done", Napi::Boolean::New(e, page.done));
          return r;
        });
  }

  // Worker thread: one page from st->cursor, advancing it.
  static int ReadPage(ListerState* st, uint64_t max, std::vector<Listed>* entries, bool* done) {
    if (rados_object_list_is_end(st->io, st->cursor)) {
      *done = true;
      return 0;
    }
    std::vector<rados_object_list_item> items(max);
    // librados writes the next position into a cursor the caller allocated.
    rados_object_list_cursor next = rados_object_list_begin(st->io);
    int n = rados_object_list(st->io, st->cursor, st->end, max, nullptr, 0, items.data(), &next);
    if (n < 0) {
      rados_object_list_cursor_free(st->io, next);
      return n;
    }
    for (int k = 0; k < n; ++k) {
      const rados_object_list_item& it = items[k];
      entries->push_back(Listed{std::string(it.nspace, it.nspace_length), std::string(it.oid, it.oid_length),
                                std::string(it.locator, it.locator_length)});
    }
    rados_object_list_free(n, items.data());
    if (next != nullptr) {
      // The cursor only moves forward: a next <= cursor would loop.
      bool forward = rados_object_list_cursor_cmp(st->io, next, st->cursor) > 0;
      rados_object_list_cursor_free(st->io, st->cursor);
      st->cursor = next;
      if (!forward && n == 0) {
        *done = true;
        return 0;
      }
    }
    *done = rados_object_list_is_end(st->io, st->cursor) != 0;
    return 0;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) { return CloseHandle(info.Env(), this); }
  Napi::Value State(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), StateName()); }

  ListerState st_;
  std::string pool_;
  bool busy_ = false;
  Napi::ObjectReference parentRef_;
};

// openObjectList(ioctx, allNamespaces) -> Promise<ObjectLister>
// Implements: rados_ioctx_get_cluster, rados_ioctx_create2, rados_ioctx_set_namespace,
// rados_object_list_begin, rados_object_list_end
Napi::Value OpenObjectList(const Napi::CallbackInfo& info) {
  IoCtx* io = ArgIoCtx(info, 0);
  bool all = ArgBool(info, 1);
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  if (!io->IsOpen()) return RejectClosed(info.Env(), io->Ctx("IoCtx.objects"), io);
  rados_ioctx_t parent = io->io();
  int64_t poolId = rados_ioctx_get_id(parent);
  std::string ns = all ? std::string(LIBRADOS_ALL_NSPACES) : io->nspace();
  return RunAsync<ListerState>(
      info.Env(), io, io->Ctx("IoCtx.objects"),
      [parent, poolId, ns](ListerState& out) {
        int rc = rados_ioctx_create2(rados_ioctx_get_cluster(parent), poolId, &out.io);
        if (rc < 0) return rc;
        rados_ioctx_set_namespace(out.io, ns.c_str());
        out.cursor = rados_object_list_begin(out.io);
        out.end = rados_object_list_end(out.io);
        return 0;
      },
      [io, ctor](Napi::Env env, ListerState& st) -> Napi::Value {
        auto* payload = new ListerPayload{io, st};
        return NewFromAddon(env, *ctor, payload);
      });
}

}  // namespace

void InitRadosList(Napi::Env env, Napi::Object exports, Napi::Object ns) {
  Napi::Function ctor = ObjectLister::Define(env);
  exports.Set("ObjectLister", ctor);
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));  // lives as long as the environment
  ns.Set("openObjectList", Napi::Function::New(env, OpenObjectList, "openObjectList", ref));
}

}  // namespace cephrbd
