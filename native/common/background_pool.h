// Threads for CPU-heavy work that must not take the CPU from the JS thread:
// the upload digests (hash.cc). librbd's and libuv's threads run at the
// process's priority; these run CEPH_RBD_BACKGROUND_NICE (default 5) nice
// levels lower. On a loaded machine a waking JS thread then preempts a
// digest at once instead of waiting for its time slice, so the event loop
// keeps answering while uploads hash; with idle cores they run as fast as
// before. libuv's own pool cannot be used for this: a thread that lowered
// its priority cannot raise it again without privileges, and libuv's
// threads also run the blocking librbd calls.
#pragma once
#include <functional>

namespace cephrbd {

// Runs `task` on one of the process's background threads (named
// ceph-rbd-bg; started on first use, one per core up to 16, never ended:
// they wait idle for work), in submission order. Any thread. `task` must not throw and must
// not touch JS values: it hands its result to the JS thread itself (e.g.
// AioDispatcher::Post).
void RunInBackground(std::function<void()> task);

}  // namespace cephrbd
