// Inotify watches of files, polled by the event loop: a change to a watched file calls a
// JavaScript function straight from the loop's poll phase, with no thread hop and none of
// fs.watch's per-event work (a read until EAGAIN, an event name and a file name made into
// strings, an EventEmitter). Which changes matter is the caller's business.
#include "watch.h"

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef __linux__
#include <limits.h>
#include <sys/inotify.h>
#include <unistd.h>
#endif
#include <uv.h>

#include "env_state.h"
#include "errno_error.h"

namespace aofkit {

#ifdef __linux__

class Watch;

// One inotify instance per environment (the main thread, each worker), as libuv keeps one for
// fs.watch: a user has few of them (fs.inotify.max_user_instances, 128 by default).
class Inotify {
 public:
  static Inotify* Of(napi_env env) {
    EnvState* state = StateOf(env);
    if (state == nullptr) ThrowErrno(env, ESHUTDOWN, "inotify_init1");
    if (state->inotify != nullptr) return state->inotify;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) ThrowErrno(env, errno, "inotify_init1");
    uv_loop_t* loop = nullptr;
    auto* poll = new uv_poll_t;
    int status = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, poll, fd) : UV_EINVAL;
    if (status != 0) {
      delete poll;
      close(fd);
      ThrowErrno(env, -status, "uv_poll_init");
    }
    status = uv_poll_start(poll, UV_READABLE, OnReadable);
    if (status != 0) {
      // An initialized handle belongs to the loop until closed.
      uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
      close(fd);
      ThrowErrno(env, -status, "uv_poll_start");
    }
    // Referenced only while a referenced watch is open (see Reference).
    uv_unref(reinterpret_cast<uv_handle_t*>(poll));
    auto* self = new Inotify(env, fd, poll);
    poll->data = self;
    state->inotify = self;  // closed by ReleaseWatches with the environment
    return self;
  }

  // Registers `watch` for `path`; returns its id. Two watches of one file share the kernel's
  // watch descriptor, which is removed with the last of them.
  uint64_t Add(napi_env env, const std::string& path, Watch* watch, int* descriptor) {
    // IN_ACCESS too: a writer wakes its readers by reading a byte of the watched file, which
    // costs it a third of a write and dirties nothing.
    int wd = inotify_add_watch(fd_, path.c_str(), IN_MODIFY | IN_ACCESS | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    if (wd < 0) ThrowErrno(env, errno, "inotify_add_watch");
    uint64_t id = nextId_++;
    watches_[id] = watch;
    byDescriptor_[wd].push_back(id);
    *descriptor = wd;
    return id;
  }

  void Remove(uint64_t id, int wd) {
    watches_.erase(id);
    auto found = byDescriptor_.find(wd);
    if (found == byDescriptor_.end()) return;
    std::vector<uint64_t>& ids = found->second;
    for (size_t index = 0; index < ids.size(); index++) {
      if (ids[index] == id) {
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(index));
        break;
      }
    }
    if (ids.empty()) {
      byDescriptor_.erase(found);
      inotify_rm_watch(fd_, wd);  // EINVAL if the file is gone: the kernel dropped it already
    }
  }

  // The loop is kept alive while any referenced watch is open.
  void Reference(bool referenced) {
    auto* handle = reinterpret_cast<uv_handle_t*>(poll_);
    if (referenced && referenced_++ == 0) uv_ref(handle);
    if (!referenced && --referenced_ == 0) uv_unref(handle);
  }

  // Closes the instance; its watches stay open but inert.
  void Release();

 private:
  Inotify(napi_env env, int fd, uv_poll_t* poll) : env_(env), fd_(fd), poll_(poll) {}

  static void OnReadable(uv_poll_t* handle, int status, int events);

  // Marks watch `id` to be called back once, however many of its events were read.
  void Due(uint64_t id) {
    for (uint64_t other : due_) {
      if (other == id) return;
    }
    due_.push_back(id);
  }

  napi_env env_;
  int fd_;
  uv_poll_t* poll_;
  std::unordered_map<uint64_t, Watch*> watches_;
  std::unordered_map<int, std::vector<uint64_t>> byDescriptor_;
  std::vector<uint64_t> due_;  // reused by OnReadable: the ids to call back
  uint64_t nextId_ = 1;
  int referenced_ = 0;
};

class Watch : public Napi::ObjectWrap<Watch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Watch",
                       {InstanceMethod<&Watch::Close>("close"), InstanceMethod<&Watch::SetRef>("ref"),
                        InstanceMethod<&Watch::SetUnref>("unref")});
  }

  // new Watch(path, callback): watches `path` for writes, attribute changes, deletion and
  // renames; `callback()` runs once per loop iteration that saw any of them. Referenced.
  Watch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watch>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "watch(path, callback) needs a path and a function");
    }
    Inotify* inotify = Inotify::Of(env);
    id_ = inotify->Add(env, info[0].As<Napi::String>().Utf8Value(), this, &wd_);
    inotify_ = inotify;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "aofkit.watch");
    referenced_ = true;
    inotify_->Reference(true);
    // Like a Node handle, the watch lives until closed, whether or not JavaScript holds it.
    Ref();
  }

  ~Watch() override { Stop(); }

  void Call(napi_env env) {
    // Runs from a libuv callback: the C API only, whose failures are statuses.
    napi_value self = nullptr;
    napi_value callback = nullptr;
    if (napi_get_reference_value(env, callbackRef(), &callback) != napi_ok || callback == nullptr) return;
    if (napi_get_reference_value(env, selfRef(), &self) != napi_ok || self == nullptr) return;
    napi_value result;
    napi_status called = napi_make_callback(env, *context_, self, callback, 0, nullptr, &result);
    // A throw is an uncaught exception, as from any event-loop callback. (While a worker
    // terminates, JavaScript cannot run and nothing is pending: then there is nothing to do.)
    bool pending = false;
    if (called != napi_ok && napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }

  // The environment is going away with the watch open: its inotify instance is closed.
  void Detach() { inotify_ = nullptr; }

 private:
  napi_ref callbackRef() const { return callback_; }
  napi_ref selfRef() const { return static_cast<const Napi::Reference<Napi::Object>&>(*this); }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    if (!released_) {
      released_ = true;
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (inotify_ != nullptr && !referenced_) {
      referenced_ = true;
      inotify_->Reference(true);
    }
    return info.This();
  }

  Napi::Value SetUnref(const Napi::CallbackInfo& info) {
    if (inotify_ != nullptr && referenced_) {
      referenced_ = false;
      inotify_->Reference(false);
    }
    return info.This();
  }

  void Stop() {
    if (inotify_ == nullptr) return;
    if (referenced_) inotify_->Reference(false);
    referenced_ = false;
    inotify_->Remove(id_, wd_);
    inotify_ = nullptr;
  }

  Inotify* inotify_ = nullptr;
  uint64_t id_ = 0;
  int wd_ = -1;
  bool referenced_ = false;
  bool released_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

void Inotify::OnReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<Inotify*>(handle->data);
  alignas(inotify_event) char buffer[4096];
  std::vector<uint64_t>& due = self->due_;
  due.clear();
  for (;;) {
    ssize_t length = read(self->fd_, buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) break;  // EAGAIN: drained
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        // The queue overflowed and events were lost: any watch may have missed one.
        for (const auto& entry : self->watches_) self->Due(entry.first);
        continue;
      }
      auto found = self->byDescriptor_.find(event->wd);
      if (found == self->byDescriptor_.end()) continue;
      for (uint64_t id : found->second) self->Due(id);
    }
    // Room left for one more event of the longest name: the queue is drained, and the read
    // that would say EAGAIN can be spared. (inotify merges repeated events, so this is usual.)
    if (static_cast<size_t>(length) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof buffer) break;
  }
  if (due.empty()) return;
  // The C API, whose failures are statuses: a C++ exception out of a libuv callback would end
  // the process.
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(self->env_, &scope) != napi_ok) return;
  // By id, not pointer: a callback may close (and the collector free) a watch due after it.
  // Nothing else touches `due` meanwhile: the loop does not poll inside a callback.
  for (uint64_t id : due) {
    auto found = self->watches_.find(id);
    if (found != self->watches_.end()) found->second->Call(self->env_);
  }
  napi_close_handle_scope(self->env_, scope);
}

void Inotify::Release() {
  for (auto& entry : watches_) entry.second->Detach();
  uv_poll_stop(poll_);
  close(fd_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  delete this;
}

#endif

void ReleaseWatches(EnvState& state) {
#ifdef __linux__
  if (state.inotify != nullptr) state.inotify->Release();
#endif
  state.inotify = nullptr;
}

void InitWatch(Napi::Env env, Napi::Object exports) {
#ifdef __linux__
  exports.Set("Watch", Watch::Define(env));
#else
  (void)env;
  (void)exports;
#endif
}

}  // namespace aofkit
