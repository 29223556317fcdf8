// mmap / munmap / msync / madvise. A mapping is handed to JavaScript as an external
// ArrayBuffer; unmap() releases the memory and detaches the buffer, so later access through
// any view throws or reads nothing instead of touching unmapped memory.
//
// The C++ side enforces the memory safety of a mapping by itself:
// - the reservation past the file's end is anonymous zero pages, and the file is mapped over it
//   as it grows (fitMapping), so a view read past the end (structuredClone, postMessage) reads
//   zeros instead of raising SIGBUS;
// - a page the file loses under us (truncated by another process) is replaced with zeros by the
//   SIGBUS handler, which counts it (faults());
// - a range with an asynchronous msync or madvise in flight is not unmapped until the call has
//   returned;
// - mappings belong to the environment (thread) that made them and are released with it.
#include "mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "async_call.h"
#include "env_state.h"
#include "errno_error.h"
#include "fault_guard.h"

namespace aofkit {
namespace {

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t AlignUp(uint64_t length) {
  size_t page = PageSize();
  return static_cast<size_t>((length + page - 1) / page * page);
}

// Unmaps now, or once the last job in flight has returned.
void Release(Mapping& mapping) {
  if (mapping.released) return;
  if (mapping.jobs > 0) {
    mapping.unmapWanted = true;
    return;
  }
  if (mapping.slot != nullptr) {
    mapping.faults = fault::Faults(mapping.slot);
    fault::Unregister(mapping.slot);  // before munmap: the addresses may be reused at once
    mapping.slot = nullptr;
  }
  munmap(mapping.base, mapping.reserved);
  mapping.released = true;
}

void Forget(napi_env env, Mapping& mapping) {
  if (!mapping.inRegistry) return;
  mapping.inRegistry = false;
  EnvState* state = StateOf(env);
  if (state != nullptr) state->mappings.erase(mapping.base);
}

void FinalizeMapping(napi_env env, void* /*data*/, void* hint) {
  std::unique_ptr<std::shared_ptr<Mapping>> holder(static_cast<std::shared_ptr<Mapping>*>(hint));
  Mapping& mapping = **holder;
  Forget(env, mapping);
  Release(mapping);
}

// The live mapping behind `info[index]`, which must be an ArrayBuffer returned by map() in this
// environment and not unmapped.
std::shared_ptr<Mapping> ArgMapping(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsArrayBuffer()) {
    throw Napi::TypeError::New(env, "mapping must be an ArrayBuffer returned by map()");
  }
  void* address = info[index].As<Napi::ArrayBuffer>().Data();
  if (address == nullptr) ThrowErrno(env, EBADF, "mapping");  // detached: unmapped
  EnvState* state = StateOf(env);
  if (state != nullptr) {
    auto found = state->mappings.find(address);
    if (found != state->mappings.end()) return found->second;
  }
  throw Napi::TypeError::New(env, "not a mapping created by map() in this thread");
}

// Resolves [offset, offset + length) to an address range inside the file-backed part.
char* RangeOf(const Napi::CallbackInfo& info, const Mapping& mapping, int64_t offset, int64_t length) {
  size_t end = mapping.backed < mapping.length ? mapping.backed : mapping.length;
  if (static_cast<uint64_t>(offset) > end || static_cast<uint64_t>(length) > end - static_cast<uint64_t>(offset)) {
    throw Napi::RangeError::New(info.Env(), "range outside the mapped part of the file");
  }
  return mapping.base + offset;
}

// Maps the file over [mapping.backed, the file's end rounded up to a page), or zeros over what
// the file no longer has, counted as dropped unless `cutHere` (the caller cut it itself).
// Returns 0 or -errno.
int Fit(Mapping& mapping, int fd, const struct stat& file, bool cutHere = false) {
  size_t backed = AlignUp(static_cast<uint64_t>(file.st_size));
  if (backed > mapping.reserved) backed = mapping.reserved;
  if (backed > mapping.backed) {
    void* done = mmap(mapping.base + mapping.backed, backed - mapping.backed, mapping.protection,
                      MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(mapping.backed));
    if (done == MAP_FAILED) return -errno;
  } else if (backed < mapping.backed) {
    void* done = mmap(mapping.base + backed, mapping.backed - backed, mapping.protection,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (done == MAP_FAILED) return -errno;
    if (!cutHere) mapping.dropped += (mapping.backed - backed) / PageSize();
  }
  mapping.backed = backed;
  return 0;
}

// map(fd, length, writable): ArrayBuffer of `length` bytes; the file's pages as far as it
// reaches, zeros past it.
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t length = ArgInt64(info, 1, "length");
  bool writable = info.Length() > 2 && info[2].ToBoolean().Value();
  EnvState* state = StateOf(env);
  if (state == nullptr) ThrowErrno(env, ESHUTDOWN, "mmap");
  if (length == 0) ThrowErrno(env, EINVAL, "mmap");
  struct stat file;
  if (fstat(fd, &file) != 0) ThrowErrno(env, errno, "fstat");
  if (!S_ISREG(file.st_mode)) ThrowErrno(env, ENODEV, "mmap");
  auto mapping = std::make_shared<Mapping>();
  mapping->length = static_cast<size_t>(length);
  mapping->reserved = AlignUp(static_cast<uint64_t>(length));
  mapping->protection = PROT_READ | (writable ? PROT_WRITE : 0);
  mapping->device = file.st_dev;
  mapping->inode = file.st_ino;
  void* base = mmap(nullptr, mapping->reserved, mapping->protection, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  mapping->base = static_cast<char*>(base);
  int fitted = Fit(*mapping, fd, file);
  if (fitted < 0) {
    munmap(base, mapping->reserved);
    ThrowErrno(env, -fitted, "mmap");
  }
  // The buffer is made without a finalizer, which is added once it exists: when Node refuses
  // the buffer (longer than it can view), nothing has been handed over and the memory is ours
  // to release, exactly once.
  napi_value buffer = nullptr;
  if (napi_create_external_arraybuffer(env, base, mapping->length, nullptr, nullptr, &buffer) != napi_ok) {
    munmap(base, mapping->reserved);
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    ThrowErrno(env, EFBIG, "mmap");
  }
  auto* holder = new std::shared_ptr<Mapping>(mapping);
  if (napi_add_finalizer(env, buffer, nullptr, FinalizeMapping, holder, nullptr) != napi_ok) {
    delete holder;
    napi_detach_arraybuffer(env, buffer);
    munmap(base, mapping->reserved);
    throw Napi::Error::New(env, "mmap: could not attach the mapping's finalizer");
  }
  mapping->slot = fault::Register(base, mapping->reserved, mapping->protection);
  mapping->inRegistry = true;
  state->mappings[base] = mapping;
  return Napi::Value(env, buffer);
}

// fitMapping(mapping, fd, cutHere): number. After the file grew or shrank, maps what it now has
// and zeros over the rest; returns the file-backed length. `fd` must be the mapped file. Pages
// the file lost count in faults() unless `cutHere` says the caller cut them itself.
Napi::Value FitMapping(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  int fd = ArgFd(info, 1);
  struct stat file;
  if (fstat(fd, &file) != 0) ThrowErrno(env, errno, "fstat");
  if (file.st_dev != mapping->device || file.st_ino != mapping->inode) ThrowErrno(env, EINVAL, "mmap");
  bool cutHere = info.Length() > 2 && info[2].ToBoolean().Value();
  int fitted = Fit(*mapping, fd, file, cutHere);
  if (fitted < 0) ThrowErrno(env, -fitted, "mmap");
  return Napi::Number::New(env, static_cast<double>(mapping->backed));
}

// faults(mapping): pages of the mapping the file lost under it, replaced with zeros: by the
// SIGBUS handler as they were touched, or by fitMapping.
Napi::Value Faults(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  uint64_t count = (mapping->slot != nullptr ? fault::Faults(mapping->slot) : mapping->faults) + mapping->dropped;
  return Napi::Number::New(info.Env(), static_cast<double>(count));
}

// unmap(mapping): void. Detaches the buffer at once; the memory is unmapped now, or when the
// last asynchronous call on it returns. Idempotent: unmapping a detached buffer does nothing.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    throw Napi::TypeError::New(env, "mapping must be an ArrayBuffer returned by map()");
  }
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.Data() == nullptr) return env.Undefined();
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  // Detach first: from here on no JavaScript view can reach the memory.
  buffer.Detach();
  Forget(env, *mapping);
  Release(*mapping);
  return env.Undefined();
}

int MsyncFlags(const Napi::CallbackInfo& info, size_t index) {
  bool wait = info.Length() > index && info[index].ToBoolean().Value();
  return wait ? MS_SYNC : MS_ASYNC;
}

// msync(mapping, offset, length, wait): void
Napi::Value Msync(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  char* address = RangeOf(info, *mapping, offset, length);
  if (msync(address, static_cast<size_t>(length), MsyncFlags(info, 3)) != 0) {
    ThrowErrno(info.Env(), errno, "msync");
  }
  return info.Env().Undefined();
}

// Runs `call` on the pool as a job of `mapping`: the range stays mapped until it returns.
Napi::Value StartJob(Napi::Env env, const char* syscall, const std::shared_ptr<Mapping>& mapping,
                     std::function<int64_t()> call) {
  Napi::Promise promise = AsyncCall::Start(env, syscall, std::move(call), [mapping]() {
    if (--mapping->jobs == 0 && mapping->unmapWanted) Release(*mapping);
  });
  mapping->jobs++;
  return promise;
}

// msyncAsync(mapping, offset, length, wait): Promise<number>
Napi::Value MsyncAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  char* address = RangeOf(info, *mapping, offset, length);
  int flags = MsyncFlags(info, 3);
  size_t size = static_cast<size_t>(length);
  return StartJob(info.Env(), "msync", mapping,
                  [address, size, flags]() -> int64_t { return msync(address, size, flags) == 0 ? 0 : -errno; });
}

// madvise of [address, address + size) in steps of kAdviceStep bytes. MADV_POPULATE_WRITE holds
// the process's mmap lock for as long as one call runs: in steps, an mmap() of the main thread
// (a mapping fitted over a file that grew) waits for one step, not for the whole range.
constexpr size_t kAdviceStep = 512 * 1024;

int64_t MadviseSteps(char* address, size_t size, int advice) {
  for (size_t done = 0; done < size; done += kAdviceStep) {
    size_t step = size - done < kAdviceStep ? size - done : kAdviceStep;
    if (madvise(address + done, step, advice) != 0) return -errno;
  }
  return 0;
}

// madviseAsync(mapping, offset, length, advice): Promise<number>
Napi::Value MadviseAsync(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  int advice = static_cast<int>(ArgInt64(info, 3, "advice"));
  char* address = RangeOf(info, *mapping, offset, length);
  size_t size = static_cast<size_t>(length);
  // The job holds the mapping (StartJob's completion owns a reference) until it is done.
  Mapping* advised = mapping.get();
  advised->advising++;
  return StartJob(info.Env(), "madvise", mapping, [address, size, advice, advised]() -> int64_t {
    int64_t result = MadviseSteps(address, size, advice);
    advised->advising--;
    return result;
  });
}

int64_t DataSync(int fd) {
#ifdef __linux__
  return fdatasync(fd) == 0 ? 0 : -errno;
#else
  return fsync(fd) == 0 ? 0 : -errno;
#endif
}

// sync_file_range(fd, offset, length, flags), retried on EINTR: 0, -errno, or -ENOSYS off Linux.
int64_t SyncRange(int fd, int64_t offset, int64_t length, unsigned int flags) {
#ifdef __linux__
  int result;
  do {
    result = sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length), flags);
  } while (result != 0 && errno == EINTR);
  return result == 0 ? 0 : -errno;
#else
  (void)fd;
  (void)offset;
  (void)length;
  (void)flags;
  return -ENOSYS;
#endif
}

// Writes [position, position + length) of `sidecarFd` to the device and then makes `fd`'s data
// durable with fdatasync, whose cache flush comes after the sidecar's write completed: `fd`'s
// write-back is started first, and the sidecar's write is made and waited for while it runs,
// so the two overlap. Where sync_file_range is missing, fdatasync of the sidecar, then of `fd`.
int64_t SidecarThenData(int sidecarFd, int64_t position, int64_t length, int fd) {
#ifdef __linux__
  int64_t result = SyncRange(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  if (result == 0) {
    result = SyncRange(sidecarFd, position, length,
                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  }
  if (result == 0) return DataSync(fd);
  if (result != -ENOSYS) return result;
#endif
  int64_t synced = DataSync(sidecarFd);
  return synced != 0 ? synced : DataSync(fd);
}

// syncChainAsync(mapping, fd, sidecarFd, bytes, position, offset, length, advice, sidecarFirst):
// Promise<number>. One job on the pool, for one thread hop instead of three. By default:
// fdatasync(fd); once it succeeded and `sidecarFd` is not -1, pwrite(sidecarFd, bytes, position)
// and fdatasync(sidecarFd). With `sidecarFirst`: pwrite(sidecarFd, bytes, position), then
// sync_file_range(sidecarFd) over the written page, waiting for its write to complete, then
// fdatasync(fd), whose cache flush comes after that write completed. Then, when `length` is not
// 0, madvise(mapping + offset, length, advice) over the part of that range the file backs,
// whose failure is ignored (it is advice). Rejects with the first failure (named fdatasync).
// `mapping` is the data file's mapping, `fd` its descriptor.
Napi::Value SyncChainAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  int fd = ArgFd(info, 1);
  int sidecarFd = static_cast<int>(ArgInt64(info, 2, "sidecarFd"));
  if (info.Length() < 4 || !info[3].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  Napi::TypedArray bytes = info[3].As<Napi::TypedArray>();
  std::array<uint8_t, 32> record{};
  size_t recordLength = bytes.ByteLength();
  if (recordLength > record.size()) throw Napi::RangeError::New(env, "bytes: at most 32");
  std::memcpy(record.data(), static_cast<uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset(), recordLength);
  int64_t position = ArgInt64(info, 4, "position");
  int64_t offset = ArgInt64(info, 5, "offset");
  int64_t length = ArgInt64(info, 6, "length");
  int advice = static_cast<int>(ArgInt64(info, 7, "advice"));
  bool sidecarFirst = info.Length() > 8 && info[8].ToBoolean().Value();
  if (position < 0) throw Napi::RangeError::New(env, "position must not be negative");
  if (offset < 0 || length < 0) throw Napi::RangeError::New(env, "offset and length must not be negative");
  // Advice is cut to the part of the range the file backs now (it may have been cut under us).
  size_t backed = mapping->backed < mapping->length ? mapping->backed : mapping->length;
  uint64_t begin = static_cast<uint64_t>(offset);
  uint64_t end = begin + static_cast<uint64_t>(length);
  if (end > backed) end = backed;
  char* address = begin < end ? mapping->base + begin : nullptr;
  size_t size = begin < end ? static_cast<size_t>(end - begin) : 0;
  return StartJob(env, "fdatasync", mapping, [=]() -> int64_t {
    int64_t result = 0;
    if (sidecarFd < 0) {
      result = DataSync(fd);
    } else {
      if (!sidecarFirst) result = DataSync(fd);
      if (result != 0) return result;
      ssize_t written;
      do {
        written = pwrite(sidecarFd, record.data(), recordLength, static_cast<off_t>(position));
      } while (written < 0 && errno == EINTR);
      if (written < 0) return -errno;
      if (static_cast<size_t>(written) != recordLength) return -EIO;
      result = sidecarFirst ? SidecarThenData(sidecarFd, position, static_cast<int64_t>(recordLength), fd)
                            : DataSync(sidecarFd);
    }
    if (result != 0) return result;
    if (address != nullptr) MadviseSteps(address, size, advice);
    return 0;
  });
}

// advising(mapping): madviseAsync calls on the mapping whose madvise has not returned yet, as
// the pool threads left it: known without the event loop turning (a writer in a synchronous
// loop asks it before it queues another prefault).
Napi::Value Advising(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  return Napi::Number::New(info.Env(), mapping->advising.load());
}

// jobs(mapping): asynchronous calls in flight on the mapping (for tests and diagnostics).
Napi::Value Jobs(const Napi::CallbackInfo& info) {
  std::shared_ptr<Mapping> mapping = ArgMapping(info, 0);
  return Napi::Number::New(info.Env(), mapping->jobs);
}

}  // namespace

void ReleaseMappings(EnvState& state) {
  // Jobs have returned by now (an environment's cleanup waits for its pool requests); one still
  // counted keeps its range mapped rather than unmapping it under the call.
  for (auto& entry : state.mappings) {
    entry.second->inRegistry = false;
    Release(*entry.second);
  }
  state.mappings.clear();
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("fitMapping", Napi::Function::New(env, FitMapping, "fitMapping"));
  exports.Set("faults", Napi::Function::New(env, Faults, "faults"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("msyncAsync", Napi::Function::New(env, MsyncAsync, "msyncAsync"));
  exports.Set("madviseAsync", Napi::Function::New(env, MadviseAsync, "madviseAsync"));
  exports.Set("mappingJobs", Napi::Function::New(env, Jobs, "mappingJobs"));
  exports.Set("mappingAdvising", Napi::Function::New(env, Advising, "mappingAdvising"));
  exports.Set("syncChainAsync", Napi::Function::New(env, SyncChainAsync, "syncChainAsync"));
  Napi::Object advice = Napi::Object::New(env);
#ifdef MADV_POPULATE_WRITE
  advice.Set("populateWrite", Napi::Number::New(env, MADV_POPULATE_WRITE));
#else
  advice.Set("populateWrite", Napi::Number::New(env, -1));
#endif
  exports.Set("adviceConstants", advice);
}

}  // namespace aofkit
