// A SIGBUS handler that keeps faults inside our mappings from ending the process. A store or
// load through a mapping raises SIGBUS where the file has no page behind the address: the file
// was truncated under us (by another process, or by finish()), or the device failed. For an
// address inside a registered range, the handler maps a page of zeros over the faulting page
// and counts the fault, and the access is retried; any other SIGBUS goes to the handler that was
// installed before ours, or ends the process as it would have without us.
#pragma once
#include <cstddef>
#include <cstdint>

namespace aofkit {
namespace fault {

struct Slot;

// Registers [begin, begin + length); `protection` is what a replacement page gets (PROT_*).
// Installs the handler on first use. Never fails: the table grows as needed.
Slot* Register(void* begin, size_t length, int protection);
// Forgets the range: call it before the memory is unmapped.
void Unregister(Slot* slot);
// Pages of the range replaced with zeros so far.
uint64_t Faults(const Slot* slot);

}  // namespace fault
}  // namespace aofkit
