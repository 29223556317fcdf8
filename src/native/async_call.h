// Runs one blocking syscall on the libuv thread pool and settles a Promise with its result.
// The call returns 0 or a positive result on success and -errno on failure.
//
// Its completion runs from the event loop, also while a worker thread is being terminated and
// JavaScript can no longer run: it uses the C API, whose failures are statuses, never the C++
// wrappers, whose failures are exceptions (an exception out of a libuv callback ends the
// process). A promise that cannot be settled then is dropped with its environment.
#pragma once
#include <napi.h>

#include <functional>

namespace aofkit {

class AsyncCall {
 public:
  // `done` (may be empty) runs on the JavaScript thread once the call has returned, before the
  // promise settles, whether or not it can settle: a mapping ends its job there.
  static Napi::Promise Start(Napi::Env env, const char* syscall, std::function<int64_t()> call,
                             std::function<void()> done = nullptr);

 private:
  static void Execute(napi_env env, void* data);
  static void Complete(napi_env env, napi_status status, void* data);

  napi_async_work work_ = nullptr;
  napi_deferred deferred_ = nullptr;
  const char* syscall_ = nullptr;
  std::function<int64_t()> call_;
  std::function<void()> done_;
  int64_t result_ = 0;
};

}  // namespace aofkit
