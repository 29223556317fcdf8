#pragma once
#include <napi.h>

namespace aofkit {
void InitMapping(Napi::Env env, Napi::Object exports);
}
