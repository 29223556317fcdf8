// fallocate / ftruncate / fdatasync / flock / pread on a file descriptor.
#include "file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "async_call.h"
#include "errno_error.h"

namespace aofkit {
namespace {

// Allocates real blocks for [offset, offset + length): never a sparse extension, so a full
// disk is an ENOSPC here rather than a SIGBUS on a later store into the mapping.
int64_t DoFallocate(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
  int result;
  do {
    result = fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (result != 0 && errno == EINTR);
  return result == 0 ? 0 : -errno;
#else
  fstore_t store = {F_ALLOCATEALL, F_PEOFPOSMODE, 0, static_cast<off_t>(offset + length), 0};
  (void)offset;
  if (fcntl(fd, F_PREALLOCATE, &store) == -1) return -errno;
  return ftruncate(fd, static_cast<off_t>(offset + length)) == 0 ? 0 : -errno;
#endif
}

int64_t DoFdatasync(int fd) {
#ifdef __linux__
  return fdatasync(fd) == 0 ? 0 : -errno;
#else
  return fsync(fd) == 0 ? 0 : -errno;
#endif
}


// Starts write-back of a range without waiting for it (Linux); elsewhere it reports ENOSYS
// and the caller falls back to msync(MS_ASYNC).
int64_t DoSyncFileRange(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
  return sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE) == 0
             ? 0
             : -errno;
#else
  (void)fd;
  (void)offset;
  (void)length;
  return -ENOSYS;
#endif
}

// 256 KiB, not more: folios of 1 MiB come from the allocator's highest free blocks, which a
// guest with free page reporting has handed back to its host, and writing them took ten times
// as long (docs/PERFORMANCE.md, "Zero-filling ahead of the writer").
constexpr int64_t kZeroChunk = 256 * 1024;

// Writes zeros over [offset, end), in writes of up to kZeroChunk that end on its boundaries: the
// page cache takes each write's pages in folios as large as it is, and a store into a mapping
// of the file faults once per folio. Every part of a write comes from one page of zeros, which
// stays in the CPU's cache. 0 or -errno.
int64_t WriteZeros(int fd, int64_t offset, int64_t end) {
  constexpr size_t kPage = 4096;
  constexpr int kParts = static_cast<int>(kZeroChunk / kPage);
  static const char zeros[kPage] = {};
  struct iovec parts[kParts];
  while (offset < end) {
    size_t chunk = static_cast<size_t>(std::min<int64_t>(kZeroChunk - offset % kZeroChunk, end - offset));
    int count = 0;
    for (size_t left = chunk; left > 0; count++) {
      size_t part = std::min(left, kPage);
      parts[count].iov_base = const_cast<char*>(zeros);
      parts[count].iov_len = part;
      left -= part;
    }
    ssize_t written = pwritev(fd, parts, count, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    offset += written;
  }
  return 0;
}

// Allocates real blocks for [offset, offset + length), extending the file: fallocate, or where
// the file system has none (ext2, ramfs), zeros written past the file's end, as posix_fallocate
// does. With `zeroFill`, zeros are then written over the whole range, so its pages are in the
// page cache, dirty, before anyone maps them. 0 or -errno.
int64_t DoAllocate(int fd, int64_t offset, int64_t length, bool zeroFill) {
  int64_t end = offset + length;
  int64_t result = DoFallocate(fd, offset, length);
  if (result == -EOPNOTSUPP || result == -ENOTSUP) {
    struct stat file;
    if (fstat(fd, &file) != 0) return -errno;
    return WriteZeros(fd, std::max<int64_t>(offset, file.st_size), end);
  }
  if (result != 0 || !zeroFill) return result;
  return WriteZeros(fd, offset, end);
}

// An allocation on the libuv pool that the JavaScript thread can also wait for: a writer that
// catches up with it must not allocate the same range beside it, whose zeros would land over
// what it writes there. A waiting thread does not write zeros itself: buffered writes to one
// file take its inode's lock, so it would spin on that lock, not fill faster.
struct Allocation {
  std::mutex mutex;
  std::condition_variable settled;
  bool done = false;
  int64_t result = 0;
};

void DeleteAllocation(Napi::Env /*env*/, std::shared_ptr<Allocation>* allocation) { delete allocation; }

// Tags the handles allocateAsync makes, so that waitAllocation takes no other external.
const napi_type_tag kAllocationTag = {0x6a0f3c51d2b84e97ULL, 0x91c7e2a4b05f6d38ULL};

Napi::Value ResultOrThrow(Napi::Env env, int64_t result, const char* syscall) {
  if (result < 0) ThrowErrno(env, static_cast<int>(-result), syscall);
  return Napi::Number::New(env, static_cast<double>(result));
}

// allocate(fd, offset, length, zeroFill): see DoAllocate.
Napi::Value Allocate(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  bool zeroFill = info.Length() > 3 && info[3].ToBoolean().Value();
  return ResultOrThrow(info.Env(), DoAllocate(fd, offset, length, zeroFill), "fallocate");
}

// allocateAsync(fd, offset, length, zeroFill): [promise, allocation]. The promise settles as
// allocate's result; waitAllocation(allocation) blocks until the same result is known.
Napi::Value AllocateAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  bool zeroFill = info.Length() > 3 && info[3].ToBoolean().Value();
  auto allocation = std::make_shared<Allocation>();
  auto* holder = new std::shared_ptr<Allocation>(allocation);
  Napi::External<std::shared_ptr<Allocation>> handle;
  try {
    handle = Napi::External<std::shared_ptr<Allocation>>::New(env, holder, DeleteAllocation);
  } catch (...) {
    delete holder;
    throw;
  }
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, handle, &kAllocationTag), Napi::Value());
  Napi::Promise promise = AsyncCall::Start(env, "fallocate", [fd, offset, length, zeroFill, allocation]() {
    int64_t result = DoAllocate(fd, offset, length, zeroFill);
    std::lock_guard<std::mutex> lock(allocation->mutex);
    allocation->result = result;
    allocation->done = true;
    allocation->settled.notify_all();
    return result;
  });
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0U, promise);
  pair.Set(1U, handle);
  return pair;
}

// waitAllocation(allocation): blocks until the allocation's job has returned; its result, or
// its errno thrown.
Napi::Value WaitAllocation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool tagged = false;
  if (info.Length() < 1 || !info[0].IsExternal() ||
      napi_check_object_type_tag(env, info[0], &kAllocationTag, &tagged) != napi_ok || !tagged) {
    throw Napi::TypeError::New(env, "allocation must be one returned by allocateAsync()");
  }
  std::shared_ptr<Allocation> allocation = *info[0].As<Napi::External<std::shared_ptr<Allocation>>>().Data();
  int64_t result;
  {
    std::unique_lock<std::mutex> lock(allocation->mutex);
    allocation->settled.wait(lock, [&allocation]() { return allocation->done; });
    result = allocation->result;
  }
  return ResultOrThrow(env, result, "fallocate");
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  return ResultOrThrow(info.Env(), DoFallocate(fd, offset, length), "fallocate");
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t length = ArgInt64(info, 1, "length");
  int64_t result = ftruncate(fd, static_cast<off_t>(length)) == 0 ? 0 : -errno;
  return ResultOrThrow(info.Env(), result, "ftruncate");
}

Napi::Value Fdatasync(const Napi::CallbackInfo& info) {
  return ResultOrThrow(info.Env(), DoFdatasync(ArgFd(info, 0)), "fdatasync");
}

Napi::Value FdatasyncAsync(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  return AsyncCall::Start(info.Env(), "fdatasync", [fd]() { return DoFdatasync(fd); });
}

Napi::Value SyncFileRangeAsync(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  return AsyncCall::Start(info.Env(), "sync_file_range",
                          [fd, offset, length]() { return DoSyncFileRange(fd, offset, length); });
}

// pread(fd, target, offset, length, position): bytes read into target[offset, offset + length),
// 0 at the end of the file. The bounds are checked here, since they guard memory.
Napi::Value Pread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "pread target must be a Uint8Array");
  Napi::TypedArray target = info[1].As<Napi::TypedArray>();
  int64_t offset = ArgInt64(info, 2, "offset");
  int64_t length = ArgInt64(info, 3, "length");
  int64_t position = ArgInt64(info, 4, "position");
  uint64_t size = target.ByteLength();
  if (offset < 0 || length < 0 || position < 0 || static_cast<uint64_t>(offset) > size ||
      static_cast<uint64_t>(length) > size - static_cast<uint64_t>(offset)) {
    throw Napi::RangeError::New(env, "pread range outside the target or the file");
  }
  auto* bytes = static_cast<uint8_t*>(target.ArrayBuffer().Data()) + target.ByteOffset() + offset;
  ssize_t result;
  do {
    result = pread(fd, bytes, static_cast<size_t>(length), static_cast<off_t>(position));
  } while (result < 0 && errno == EINTR);
  return ResultOrThrow(env, result < 0 ? -errno : result, "pread");
}

// seekHole(fd, offset): the offset of the first hole at or after `offset` (lseek SEEK_HOLE; the
// file's end when it has none there). ENXIO when `offset` is past the end.
Napi::Value SeekHole(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
#ifdef SEEK_HOLE
  off_t result = lseek(fd, static_cast<off_t>(offset), SEEK_HOLE);
  return ResultOrThrow(info.Env(), result < 0 ? -errno : static_cast<int64_t>(result), "lseek");
#else
  (void)fd;
  (void)offset;
  return ResultOrThrow(info.Env(), -ENOSYS, "lseek");
#endif
}

// fileSystemType(fd): the f_type of the file system the file is on (fstatfs), as Linux's
// *_SUPER_MAGIC constants name them.
Napi::Value FileSystemType(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  struct statfs result;
  if (fstatfs(fd, &result) != 0) return ResultOrThrow(info.Env(), -errno, "fstatfs");
  return Napi::Number::New(info.Env(), static_cast<double>(static_cast<uint64_t>(result.f_type) & 0xffffffffU));
}

// flock(fd, operation): void. EWOULDBLOCK with LOCK_NB is thrown like any other errno.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int operation = static_cast<int>(ArgInt64(info, 1, "operation"));
  int result;
  do {
    result = flock(fd, operation);
  } while (result != 0 && errno == EINTR);
  return ResultOrThrow(info.Env(), result == 0 ? 0 : -errno, "flock");
}

// mountId(fd): the id of the mount the file is on, from statx: the never-reused
// STATX_MNT_ID_UNIQUE (Linux 6.8 and later), else the reusable STATX_MNT_ID, else 0. A file
// system unmounted and mounted again (after a shutdown, say) gets a new one.
Napi::Value MountId(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
#if defined(__linux__) && defined(STATX_BASIC_STATS)
  constexpr unsigned int kMntId = 0x00001000U;        // STATX_MNT_ID
  constexpr unsigned int kMntIdUnique = 0x00004000U;  // STATX_MNT_ID_UNIQUE
  struct statx result = {};
  if (statx(fd, "", AT_EMPTY_PATH, kMntId | kMntIdUnique, &result) != 0) {
    return ResultOrThrow(info.Env(), -errno, "statx");
  }
  if ((result.stx_mask & (kMntId | kMntIdUnique)) == 0) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), static_cast<double>(result.stx_mnt_id));
#else
  (void)fd;
  return Napi::Number::New(info.Env(), 0);
#endif
}

#ifdef F_OFD_SETLK
// Runs fcntl(fd, command) on an open file description lock of `type` on [start, start + length)
// taken from the call's arguments (fd, start, length, type); 0 or -errno. `lock` holds the
// result (F_OFD_GETLK writes the conflicting lock, or F_UNLCK, into it).
int64_t OfdFcntl(const Napi::CallbackInfo& info, int command, struct flock* lock) {
  int fd = ArgFd(info, 0);
  *lock = {};
  lock->l_start = static_cast<off_t>(ArgInt64(info, 1, "start"));
  lock->l_len = static_cast<off_t>(ArgInt64(info, 2, "length"));
  lock->l_type = static_cast<short>(ArgInt64(info, 3, "type"));
  lock->l_whence = SEEK_SET;
  int result;
  do {
    result = fcntl(fd, command, lock);
  } while (result != 0 && errno == EINTR);
  return result == 0 ? 0 : -errno;
}
#endif

// ofdLock(fd, start, length, type): takes (F_RDLCK, F_WRLCK) or drops (F_UNLCK) an open file
// description lock on [start, start + length) without waiting; EAGAIN when another description
// holds a conflicting one. ENOSYS where there are no such locks (not Linux).
Napi::Value OfdLock(const Napi::CallbackInfo& info) {
#ifdef F_OFD_SETLK
  struct flock lock;
  return ResultOrThrow(info.Env(), OfdFcntl(info, F_OFD_SETLK, &lock), "fcntl");
#else
  return ResultOrThrow(info.Env(), -ENOSYS, "fcntl");
#endif
}

// ofdLockHeld(fd, start, length, type): whether another open file description holds a lock on
// the range that conflicts with one of `type` (F_OFD_GETLK). Takes nothing.
Napi::Value OfdLockHeld(const Napi::CallbackInfo& info) {
#ifdef F_OFD_SETLK
  struct flock lock;
  int64_t result = OfdFcntl(info, F_OFD_GETLK, &lock);
  if (result != 0) return ResultOrThrow(info.Env(), result, "fcntl");
  return Napi::Boolean::New(info.Env(), lock.l_type != F_UNLCK);
#else
  return ResultOrThrow(info.Env(), -ENOSYS, "fcntl");
#endif
}

}  // namespace

void InitFile(Napi::Env env, Napi::Object exports) {
  exports.Set("allocate", Napi::Function::New(env, Allocate, "allocate"));
  exports.Set("allocateAsync", Napi::Function::New(env, AllocateAsync, "allocateAsync"));
  exports.Set("waitAllocation", Napi::Function::New(env, WaitAllocation, "waitAllocation"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("fdatasync", Napi::Function::New(env, Fdatasync, "fdatasync"));
  exports.Set("fdatasyncAsync", Napi::Function::New(env, FdatasyncAsync, "fdatasyncAsync"));
  exports.Set("syncFileRangeAsync", Napi::Function::New(env, SyncFileRangeAsync, "syncFileRangeAsync"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("fileSystemType", Napi::Function::New(env, FileSystemType, "fileSystemType"));
  exports.Set("ofdLock", Napi::Function::New(env, OfdLock, "ofdLock"));
  exports.Set("ofdLockHeld", Napi::Function::New(env, OfdLockHeld, "ofdLockHeld"));
  exports.Set("pread", Napi::Function::New(env, Pread, "pread"));
  exports.Set("seekHole", Napi::Function::New(env, SeekHole, "seekHole"));
  exports.Set("mountId", Napi::Function::New(env, MountId, "mountId"));
  Napi::Object lock = Napi::Object::New(env);
  lock.Set("exclusive", Napi::Number::New(env, LOCK_EX));
  lock.Set("unlock", Napi::Number::New(env, LOCK_UN));
  lock.Set("nonBlocking", Napi::Number::New(env, LOCK_NB));
  lock.Set("read", Napi::Number::New(env, F_RDLCK));
  lock.Set("write", Napi::Number::New(env, F_WRLCK));
  lock.Set("release", Napi::Number::New(env, F_UNLCK));
  exports.Set("lockConstants", lock);
}

}  // namespace aofkit
