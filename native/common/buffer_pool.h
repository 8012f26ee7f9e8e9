// Chunk buffers whose memory is used again: `allocPooledBuffer(size)` returns
// a Buffer over a block of memory that goes back to a small idle pool when the
// Buffer is garbage-collected, instead of to malloc. A chunked reader that
// hands every chunk to its consumer cannot reuse the Buffer itself (the
// consumer may keep it), but the next chunk of the same size then lands on
// pages that are already mapped: librbd's copy into it does not take a page
// fault per 4 KiB, and glibc does not trim and re-grow its heap for every
// chunk (measured in docs/PERFORMANCE.md, "What changed, measured").
// An upload's chunk buffers come from the same pool through
// `allocPooledBufferAsync(size)`, which maps and first writes a new block on
// a worker thread: that first write of fresh memory is the costly part
// here, and on the JS thread it stalled the event loop (docs/PERFORMANCE.md).
//
// Blocks are mmap()ed (page-rounded, populated, and not inherited by fork:
// a spawn would make every page copy-on-write and the next read into it
// fault again) and kept only up to kMaxIdleBytes; the
// pool is process-wide (a Buffer may be collected by another environment's
// thread, a worker's, so it is locked). Where the runtime refuses external
// buffers, a plain Buffer is returned.
#pragma once
#include <napi.h>

namespace cephrbd {

// Exports allocPooledBuffer(size) -> Buffer and allocPooledBufferAsync(size)
// -> Promise<Buffer> (uninitialised memory).
void InitBufferPool(Napi::Env env, Napi::Object exports);

}  // namespace cephrbd
