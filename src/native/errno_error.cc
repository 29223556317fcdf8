#include "errno_error.h"

#include <cmath>
#include <cstring>
#include <string>

namespace aofkit {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ErrnoError(env, err, syscall);
}

napi_value MakeErrnoError(napi_env env, int err, const char* syscall) {
  std::string text = std::string(syscall) + ": " + std::strerror(err);
  napi_value message = nullptr;
  napi_value error = nullptr;
  napi_value number = nullptr;
  napi_value name = nullptr;
  if (napi_create_string_utf8(env, text.c_str(), text.size(), &message) != napi_ok ||
      napi_create_error(env, nullptr, message, &error) != napi_ok ||
      napi_create_int32(env, -err, &number) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_set_named_property(env, error, "errno", number) != napi_ok ||
      napi_set_named_property(env, error, "syscall", name) != napi_ok) {
    return nullptr;
  }
  return error;
}

int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || value < 0 || value != std::floor(value) || value > 9007199254740991.0) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  }
  return static_cast<int64_t>(value);
}

int ArgFd(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<int>(ArgInt64(info, index, "fd"));
}

}  // namespace aofkit
