// Builds errors that carry the failing syscall and its errno, in the shape of Node's
// SystemError (`errno` negative, `syscall`), so TypeScript can map them to stable codes.
#pragma once
#include <napi.h>

namespace aofkit {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);
// The same error without C++ exceptions, for callbacks from the event loop: null if it could
// not be made (while an environment is torn down, JavaScript values cannot be).
napi_value MakeErrnoError(napi_env env, int err, const char* syscall);

// Argument helpers: the TypeScript layer validates user input; these only guard the boundary.
int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* name);
int ArgFd(const Napi::CallbackInfo& info, size_t index);

}  // namespace aofkit
