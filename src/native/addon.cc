// aofkit's native addon: thin wrappers over the syscalls the TypeScript layer cannot make
// itself. No format or policy lives here (see src/native/README.md).
#include <napi.h>
#include <unistd.h>

#include "env_state.h"
#include "file.h"
#include "futex.h"
#include "mapping.h"
#include "watch.h"

namespace aofkit {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitEnvState(env);
  InitMapping(env, exports);
  InitFile(env, exports);
  InitFutex(env, exports);
  InitWatch(env, exports);
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  return exports;
}

}  // namespace aofkit

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return aofkit::Init(env, exports); }

NODE_API_MODULE(aofkit, InitAddon)
