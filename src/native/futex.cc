// futex wake on a 32-bit word of a shared mapping, across processes (no FUTEX_PRIVATE_FLAG),
// for readers that sleep in a futex wait on the sidecar's commitSequence (docs/FORMAT.md). The
// library itself waits by inotify and makes no futex wait: a wait on the thread pool could hold
// a pool thread for as long as no writer wakes it.
#include "futex.h"

#include <cerrno>
#include <climits>
#include <cstdint>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "errno_error.h"

namespace aofkit {
namespace {

int64_t DoWake(uint32_t* word, int count) {
#ifdef __linux__
  long result = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return result >= 0 ? result : -errno;
#else
  (void)word;
  (void)count;
  return -ENOSYS;
#endif
}

// The word is element `index` of an Int32Array (over an ArrayBuffer, a SharedArrayBuffer or
// a mapping).
uint32_t* WordOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), "futex word must be an element of an Int32Array");
  }
  Napi::Int32Array words = info[0].As<Napi::Int32Array>();
  int64_t index = ArgInt64(info, 1, "index");
  if (words.Data() == nullptr || static_cast<uint64_t>(index) >= words.ElementLength()) {
    throw Napi::RangeError::New(info.Env(), "futex index outside the array");
  }
  return reinterpret_cast<uint32_t*>(words.Data() + index);
}

// futexWake(words, index, count): number of waiters woken
Napi::Value Wake(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info);
  int count = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : INT_MAX;
  if (count <= 0) count = INT_MAX;
  int64_t result = DoWake(word, count);
  if (result < 0) ThrowErrno(info.Env(), static_cast<int>(-result), "futex");
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

}  // namespace

void InitFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWake", Napi::Function::New(env, Wake, "futexWake"));
}

}  // namespace aofkit
