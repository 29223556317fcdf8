// Runs one blocking syscall on the libuv thread pool and settles a Promise with its result.
// The call returns 0 or a positive result on success and -errno on failure.
#pragma once
#include <napi.h>

#include <functional>

#include "errno_error.h"

namespace aofkit {

class AsyncCall : public Napi::AsyncWorker {
 public:
  // `keepAlive` (may be empty) is an object whose memory the call touches: it is held
  // referenced until the call has returned, so the garbage collector cannot free it.
  static Napi::Promise Start(Napi::Env env, const char* syscall, std::function<int64_t()> call,
                             Napi::Value keepAlive = Napi::Value()) {
    auto* worker = new AsyncCall(env, syscall, std::move(call), keepAlive);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override { result_ = call_(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_ < 0) {
      deferred_.Reject(ErrnoError(env, static_cast<int>(-result_), syscall_).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, static_cast<double>(result_)));
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  AsyncCall(Napi::Env env, const char* syscall, std::function<int64_t()> call, Napi::Value keepAlive)
      : Napi::AsyncWorker(env, syscall),
        deferred_(Napi::Promise::Deferred::New(env)),
        syscall_(syscall),
        call_(std::move(call)) {
    if (!keepAlive.IsEmpty() && keepAlive.IsObject()) {
      keepAlive_ = Napi::Persistent(keepAlive.As<Napi::Object>());
    }
  }

  Napi::Promise::Deferred deferred_;
  const char* syscall_;
  std::function<int64_t()> call_;
  Napi::ObjectReference keepAlive_;
  int64_t result_ = 0;
};

}  // namespace aofkit
