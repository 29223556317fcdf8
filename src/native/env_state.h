// The addon's state for one environment (the main thread, or one worker thread): its mappings
// and its inotify instance. Nothing in the addon is shared between environments except the
// SIGBUS handler's table (fault_guard.h), which signals, being process-wide, need. One cleanup
// hook releases everything an environment still holds when it goes away.
#pragma once
#include <napi.h>

#include <memory>
#include <unordered_map>

namespace aofkit {

struct Mapping;
class Inotify;

struct EnvState {
  napi_env env;
  // Live mappings by base address.
  std::unordered_map<void*, std::shared_ptr<Mapping>> mappings;
  Inotify* inotify = nullptr;
};

// Creates the environment's state and its cleanup hook (once, from the module's Init).
void InitEnvState(Napi::Env env);
// The environment's state; null once its cleanup hook has run.
EnvState* StateOf(napi_env env);

// Defined by mapping.cc and watch.cc: release what the environment holds, at its cleanup.
void ReleaseMappings(EnvState& state);
void ReleaseWatches(EnvState& state);

}  // namespace aofkit
