#pragma once
#include <napi.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace aofkit {

namespace fault {
struct Slot;
}

// One mapping: a reservation of `reserved` bytes whose first `backed` bytes map the file and
// whose rest is anonymous zero pages, so that no address of it raises SIGBUS for lack of a file
// page behind it (see README.md, "Memory that JavaScript can reach").
struct Mapping {
  char* base = nullptr;
  size_t length = 0;    // what JavaScript sees
  size_t reserved = 0;  // `length` rounded up to a page
  size_t backed = 0;
  int protection = 0;
  dev_t device = 0;
  ino_t inode = 0;
  fault::Slot* slot = nullptr;  // registered with the SIGBUS handler while mapped
  uint64_t faults = 0;          // the slot's count, kept when it is released
  uint64_t dropped = 0;         // pages fitMapping found cut by someone else
  int jobs = 0;                 // asynchronous calls in flight on the range
  std::atomic<int> advising{0};  // madviseAsync calls not yet returned on the pool (read anywhere)
  bool unmapWanted = false;     // unmap() or the finalizer came while jobs ran
  bool released = false;        // munmap done
  bool inRegistry = false;
};

void InitMapping(Napi::Env env, Napi::Object exports);

}  // namespace aofkit
