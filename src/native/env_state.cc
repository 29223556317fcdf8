#include "env_state.h"

namespace aofkit {
namespace {

void Cleanup(void* data) {
  auto* state = static_cast<EnvState*>(data);
  napi_set_instance_data(state->env, nullptr, nullptr, nullptr);
  ReleaseWatches(*state);
  ReleaseMappings(*state);
  delete state;
}

}  // namespace

void InitEnvState(Napi::Env env) {
  auto* state = new EnvState{env, {}, nullptr};
  // No finalizer: the cleanup hook owns the state, and clears the slot before freeing it.
  if (napi_set_instance_data(env, state, nullptr, nullptr) != napi_ok ||
      napi_add_env_cleanup_hook(env, Cleanup, state) != napi_ok) {
    napi_set_instance_data(env, nullptr, nullptr, nullptr);
    delete state;
    throw Napi::Error::New(env, "aofkit: could not set up its per-environment state");
  }
}

EnvState* StateOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<EnvState*>(data);
}

}  // namespace aofkit
