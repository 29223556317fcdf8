#pragma once
#include <napi.h>

namespace aofkit {
void InitFutex(Napi::Env env, Napi::Object exports);
}
