#pragma once
#include <napi.h>

namespace aofkit {
void InitFile(Napi::Env env, Napi::Object exports);
}
