#pragma once
#include <napi.h>

namespace aofkit {

// Watch: an inotify watch of one file whose callback runs from the event loop (Linux only).
void InitWatch(Napi::Env env, Napi::Object exports);

}  // namespace aofkit
