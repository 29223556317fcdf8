// fallocate / ftruncate / fdatasync / flock / pread on a file descriptor.
#include "file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

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

Napi::Value ResultOrThrow(Napi::Env env, int64_t result, const char* syscall) {
  if (result < 0) ThrowErrno(env, static_cast<int>(-result), syscall);
  return Napi::Number::New(env, static_cast<double>(result));
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  return ResultOrThrow(info.Env(), DoFallocate(fd, offset, length), "fallocate");
}

Napi::Value FallocateAsync(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t offset = ArgInt64(info, 1, "offset");
  int64_t length = ArgInt64(info, 2, "length");
  return AsyncCall::Start(info.Env(), "fallocate",
                          [fd, offset, length]() { return DoFallocate(fd, offset, length); });
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
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("fallocateAsync", Napi::Function::New(env, FallocateAsync, "fallocateAsync"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("fdatasync", Napi::Function::New(env, Fdatasync, "fdatasync"));
  exports.Set("fdatasyncAsync", Napi::Function::New(env, FdatasyncAsync, "fdatasyncAsync"));
  exports.Set("syncFileRangeAsync", Napi::Function::New(env, SyncFileRangeAsync, "syncFileRangeAsync"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
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
