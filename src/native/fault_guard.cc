#include "fault_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace aofkit {
namespace fault {

// The handler reads the table without locks: slots live in chunks that are never freed, and a
// slot is published by storing its `begin` last (release) and retired by clearing it first.
struct Slot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<int> protection{0};
  std::atomic<uint64_t> faults{0};
  bool used = false;  // guarded by tableMutex
};

namespace {

constexpr size_t kChunkSlots = 256;

struct Chunk {
  Slot slots[kChunkSlots];
  std::atomic<Chunk*> next{nullptr};
};

Chunk firstChunk;
std::mutex tableMutex;  // serializes Register and Unregister (the handler takes no lock)
std::once_flag installOnce;
struct sigaction previousAction;
uintptr_t pageMask = 0;

// Whatever was there before us decides about a SIGBUS that is not ours.
void Chain(int signal, siginfo_t* info, void* context) {
  if ((previousAction.sa_flags & SA_SIGINFO) != 0) {
    if (previousAction.sa_sigaction != nullptr) previousAction.sa_sigaction(signal, info, context);
    return;
  }
  if (previousAction.sa_handler == SIG_IGN && info->si_code <= 0) return;  // sent, and ignored
  if (previousAction.sa_handler == SIG_DFL || previousAction.sa_handler == SIG_IGN) {
    // Restore the default action: a fault recurs when the instruction is retried and ends the
    // process with SIGBUS, as without us; a signal that was sent is raised again.
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal, &fallback, nullptr);
    if (info->si_code <= 0) raise(signal);
    return;
  }
  previousAction.sa_handler(signal);
}

// Async-signal-safe: atomics, mmap and sigaction only.
void OnSigbus(int signal, siginfo_t* info, void* context) {
  int savedErrno = errno;
  if (info != nullptr && info->si_code > 0) {  // raised by the kernel for an access
    auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (Chunk* chunk = &firstChunk; chunk != nullptr; chunk = chunk->next.load(std::memory_order_acquire)) {
      for (Slot& slot : chunk->slots) {
        uintptr_t begin = slot.begin.load(std::memory_order_acquire);
        if (begin == 0 || address < begin || address >= slot.end.load(std::memory_order_relaxed)) continue;
        void* page = reinterpret_cast<void*>(address & pageMask);
        void* zeros = mmap(page, ~pageMask + 1, slot.protection.load(std::memory_order_relaxed),
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros != MAP_FAILED) {
          slot.faults.fetch_add(1, std::memory_order_relaxed);
          errno = savedErrno;
          return;
        }
        break;
      }
    }
  }
  errno = savedErrno;
  if (info != nullptr) Chain(signal, info, context);
}

void Install() {
  pageMask = ~(static_cast<uintptr_t>(sysconf(_SC_PAGESIZE)) - 1);
  struct sigaction action = {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &previousAction);
}

}  // namespace

Slot* Register(void* begin, size_t length, int protection) {
  std::call_once(installOnce, Install);
  std::lock_guard<std::mutex> lock(tableMutex);
  for (Chunk* chunk = &firstChunk;; chunk = chunk->next.load(std::memory_order_acquire)) {
    for (Slot& slot : chunk->slots) {
      if (slot.used) continue;
      slot.used = true;
      slot.faults.store(0, std::memory_order_relaxed);
      slot.protection.store(protection, std::memory_order_relaxed);
      slot.end.store(reinterpret_cast<uintptr_t>(begin) + length, std::memory_order_relaxed);
      slot.begin.store(reinterpret_cast<uintptr_t>(begin), std::memory_order_release);
      return &slot;
    }
    if (chunk->next.load(std::memory_order_acquire) == nullptr) {
      chunk->next.store(new Chunk(), std::memory_order_release);  // never freed: the handler may read it
    }
  }
}

void Unregister(Slot* slot) {
  std::lock_guard<std::mutex> lock(tableMutex);
  slot->begin.store(0, std::memory_order_release);
  slot->end.store(0, std::memory_order_relaxed);
  slot->used = false;
}

uint64_t Faults(const Slot* slot) { return slot->faults.load(std::memory_order_relaxed); }

}  // namespace fault
}  // namespace aofkit
