// mmap / munmap / msync / madvise. A mapping is handed to JavaScript as an external
// ArrayBuffer; unmap() releases the memory and detaches the buffer, so later access through
// any view throws or reads nothing instead of touching unmapped memory.
#include "mapping.h"

#include <sys/mman.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "async_call.h"
#include "errno_error.h"

namespace aofkit {
namespace {

struct Mapping {
  void* address;
  size_t length;
  bool unmapped;
};

// Mappings by base address; workers share the process, hence the mutex.
std::mutex mappingsMutex;
std::unordered_map<void*, Mapping*> mappings;

void FinalizeMapping(Napi::Env /*env*/, void* /*data*/, Mapping* mapping) {
  {
    std::lock_guard<std::mutex> lock(mappingsMutex);
    if (!mapping->unmapped) {
      munmap(mapping->address, mapping->length);
      mapping->unmapped = true;
      mappings.erase(mapping->address);
    }
  }
  delete mapping;
}

Napi::ArrayBuffer ArgMapping(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsArrayBuffer()) {
    throw Napi::TypeError::New(info.Env(), "mapping must be an ArrayBuffer returned by map()");
  }
  return info[index].As<Napi::ArrayBuffer>();
}

// Resolves [offset, offset + length) of a live mapping to an address range.
char* RangeOf(const Napi::CallbackInfo& info, Napi::ArrayBuffer mapping, int64_t offset, int64_t length) {
  char* base = static_cast<char*>(mapping.Data());
  size_t size = mapping.ByteLength();
  if (base == nullptr) ThrowErrno(info.Env(), EBADF, "mapping");
  if (static_cast<uint64_t>(offset) > size || static_cast<uint64_t>(length) > size - offset) {
    throw Napi::RangeError::New(info.Env(), "range outside the mapping");
  }
  return base + offset;
}

// map(fd, length, writable): ArrayBuffer
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t length = ArgInt64(info, 1, "length");
  bool writable = info.Length() > 2 && info[2].ToBoolean().Value();
  if (length == 0) ThrowErrno(env, EINVAL, "mmap");
  int protection = PROT_READ | (writable ? PROT_WRITE : 0);
  void* address = mmap(nullptr, static_cast<size_t>(length), protection, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  auto* mapping = new Mapping{address, static_cast<size_t>(length), false};
  {
    std::lock_guard<std::mutex> lock(mappingsMutex);
    mappings[address] = mapping;
  }
  return Napi::ArrayBuffer::New(env, address, static_cast<size_t>(length), FinalizeMapping, mapping);
}

// unmap(mapping): void. Idempotent: unmapping a detached buffer does nothing.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer buffer = ArgMapping(info, 0);
  void* address = buffer.Data();
  if (address == nullptr) return env.Undefined();
  {
    std::lock_guard<std::mutex> lock(mappingsMutex);
    auto found = mappings.find(address);
    if (found == mappings.end()) {
      throw Napi::TypeError::New(env, "not a mapping created by map()");
    }
    Mapping* mapping = found->second;
    // Detach first: from here on no JavaScript view can reach the memory.
    buffer.Detach();
    if (munmap(mapping->address, mapping->length) != 0) ThrowErrno(env, errno, "munmap");
    mapping->unmapped = true;
    mappings.erase(found);
  }
  return env.Undefined();
}

int MsyncFlags(const Napi::CallbackInfo& info, size_t index) {
  bool wait = info.Length() > index && info[index].ToBoolean().Value();
  return wait ? MS_SYNC : MS_ASYNC;
}

// msync(mapping, offset, length, wait): void
Napi::Value Msync(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  char* address = RangeOf(info, mapping, offset, length);
  if (msync(address, static_cast<size_t>(length), MsyncFlags(info, 3)) != 0) {
    ThrowErrno(info.Env(), errno, "msync");
  }
  return info.Env().Undefined();
}

// msyncAsync(mapping, offset, length, wait): Promise<number>
Napi::Value MsyncAsync(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  char* address = RangeOf(info, mapping, offset, length);
  int flags = MsyncFlags(info, 3);
  size_t size = static_cast<size_t>(length);
  return AsyncCall::Start(
      info.Env(), "msync",
      [address, size, flags]() -> int64_t { return msync(address, size, flags) == 0 ? 0 : -errno; },
      mapping);
}

// madviseAsync(mapping, offset, length, advice): Promise<number>
Napi::Value MadviseAsync(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  int advice = static_cast<int>(ArgInt64(info, 3, "advice"));
  char* address = RangeOf(info, mapping, offset, length);
  size_t size = static_cast<size_t>(length);
  return AsyncCall::Start(
      info.Env(), "madvise",
      [address, size, advice]() -> int64_t { return madvise(address, size, advice) == 0 ? 0 : -errno; },
      mapping);
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("msyncAsync", Napi::Function::New(env, MsyncAsync, "msyncAsync"));
  exports.Set("madviseAsync", Napi::Function::New(env, MadviseAsync, "madviseAsync"));
  Napi::Object advice = Napi::Object::New(env);
#ifdef MADV_POPULATE_WRITE
  advice.Set("populateWrite", Napi::Number::New(env, MADV_POPULATE_WRITE));
#else
  advice.Set("populateWrite", Napi::Number::New(env, -1));
#endif
  exports.Set("adviceConstants", advice);
}

}  // namespace aofkit
