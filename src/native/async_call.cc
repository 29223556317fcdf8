#include "async_call.h"

#include <cerrno>
#include <memory>

#include "errno_error.h"

namespace aofkit {

Napi::Promise AsyncCall::Start(Napi::Env env, const char* syscall, std::function<int64_t()> call,
                               std::function<void()> done) {
  auto job = std::make_unique<AsyncCall>();
  job->syscall_ = syscall;
  job->call_ = std::move(call);
  napi_value promise = nullptr;
  napi_value name = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &job->deferred_, &promise), Napi::Promise());
  NAPI_THROW_IF_FAILED(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name), Napi::Promise());
  NAPI_THROW_IF_FAILED(env, napi_create_async_work(env, nullptr, name, Execute, Complete, job.get(), &job->work_),
                       Napi::Promise());
  if (napi_queue_async_work(env, job->work_) != napi_ok) {
    napi_delete_async_work(env, job->work_);
    NAPI_THROW(Napi::Error::New(env, "could not queue an asynchronous call"), Napi::Promise());
  }
  // Set only once queued: from here on Complete runs `done`, and on any failure above the
  // caller has not begun its job.
  job->done_ = std::move(done);
  job.release();
  return Napi::Promise(env, promise);
}

void AsyncCall::Execute(napi_env /*env*/, void* data) {
  auto* job = static_cast<AsyncCall*>(data);
  job->result_ = job->call_();
}

void AsyncCall::Complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<AsyncCall> job(static_cast<AsyncCall*>(data));
  if (job->done_) job->done_();
  napi_handle_scope scope = nullptr;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  napi_value value = nullptr;
  if (status != napi_ok) {
    value = MakeErrnoError(env, ECANCELED, job->syscall_);
    if (value != nullptr) napi_reject_deferred(env, job->deferred_, value);
  } else if (job->result_ < 0) {
    value = MakeErrnoError(env, static_cast<int>(-job->result_), job->syscall_);
    if (value != nullptr) napi_reject_deferred(env, job->deferred_, value);
  } else if (napi_create_double(env, static_cast<double>(job->result_), &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred_, value);
  }
  napi_delete_async_work(env, job->work_);
  if (scoped) napi_close_handle_scope(env, scope);
}

}  // namespace aofkit
