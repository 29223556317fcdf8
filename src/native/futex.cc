// futex wait / wake on a 32-bit word of a shared mapping, across processes (no
// FUTEX_PRIVATE_FLAG). Outcomes that are not errors are returned like Atomics.wait's:
// 0 = woken ("ok"), 1 = value differed ("not-equal"), 2 = timed out ("timed-out").
#include "futex.h"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "async_call.h"
#include "errno_error.h"

namespace aofkit {
namespace {

constexpr int64_t kWoken = 0;
constexpr int64_t kNotEqual = 1;
constexpr int64_t kTimedOut = 2;

int64_t DoWait(uint32_t* word, uint32_t expected, int64_t timeoutMs) {
#ifdef __linux__
  struct timespec timeout;
  struct timespec* timeoutPointer = nullptr;
  if (timeoutMs >= 0) {
    timeout.tv_sec = static_cast<time_t>(timeoutMs / 1000);
    timeout.tv_nsec = static_cast<long>((timeoutMs % 1000) * 1000000);
    timeoutPointer = &timeout;
  }
  long result = syscall(SYS_futex, word, FUTEX_WAIT, expected, timeoutPointer, nullptr, 0);
  if (result == 0) return kWoken;
  if (errno == EAGAIN) return kNotEqual;
  if (errno == ETIMEDOUT) return kTimedOut;
  if (errno == EINTR) return kWoken;  // spurious wake-ups are allowed; callers re-check
  return -errno;
#else
  (void)word;
  (void)expected;
  (void)timeoutMs;
  return -ENOSYS;
#endif
}

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
// a mapping); keepAlive holds the array while an asynchronous wait uses its memory.
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

int64_t TimeoutArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || info[index].IsUndefined()) return -1;
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0) || value > static_cast<double>(INT64_MAX / 1000000)) return -1;  // infinite
  return static_cast<int64_t>(value);
}

// futexWait(words, index, expected, timeoutMs): 0 | 1 | 2
Napi::Value Wait(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info);
  uint32_t expected = info[2].As<Napi::Number>().Uint32Value();
  int64_t result = DoWait(word, expected, TimeoutArg(info, 3));
  if (result < 0) ThrowErrno(info.Env(), static_cast<int>(-result), "futex");
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

// futexWaitAsync(words, index, expected, timeoutMs): Promise<0 | 1 | 2>
Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info);
  uint32_t expected = info[2].As<Napi::Number>().Uint32Value();
  int64_t timeoutMs = TimeoutArg(info, 3);
  return AsyncCall::Start(
      info.Env(), "futex", [word, expected, timeoutMs]() { return DoWait(word, expected, timeoutMs); },
      info[0]);
}

// futexWake(words, index, count): number of waiters woken
Napi::Value Wake(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info);
  int count = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : INT_MAX;
  if (count <= 0) count = INT_MAX;
  int64_t result = DoWake(word, count);
  if (result < 0) ThrowErrno(info.Env(), static_cast<int>(-result), "futex");
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

}  // namespace

void InitFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWait", Napi::Function::New(env, Wait, "futexWait"));
  exports.Set("futexWaitAsync", Napi::Function::New(env, WaitAsync, "futexWaitAsync"));
  exports.Set("futexWake", Napi::Function::New(env, Wake, "futexWake"));
}

}  // namespace aofkit
