// Incremental message digests (MD5, SHA-2, SHA-3, ...) computed off the JS
// thread with the OpenSSL EVP API that Node's own binary exports.
//
//   const h = createHasher(['md5', 'sha512']);
//   await h.update(buffer);      // resolves once every algorithm consumed it
//   const [md5, sha] = await h.digest();   // lower-case hex, in order
//
// Each algorithm has its own serial lane: at most one step per algorithm
// is in flight, on the process's background threads
// (common/background_pool.h: below the JS thread's priority, shared by
// every hasher), and the lanes run in parallel with each other and
// with whatever the JS thread does (e.g. librbd aio writes of the same
// bytes). A Buffer is pinned, not copied, until every lane has hashed it.
#pragma once
#include <napi.h>

namespace cephrbd {

// Exports `Hasher` (the class, for `instanceof` and tests) and the module
// function `createHasher(algorithms: string[])`.
void InitHash(Napi::Env env, Napi::Object exports);

}  // namespace cephrbd
