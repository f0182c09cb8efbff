// The program's global operator new, which maps large blocks in one call before their first use.
//
// On virtual machines a first write to each fresh 4 KiB page traps to the kernel: about 12 us a
// page measured on the benchmark machine, against well under 1 us to fill it, so the first touch
// of a million commoners' 200 MB of arrays took more than half a second, on one thread, since
// the kernel serves the faults one at a time. madvise(MADV_POPULATE_WRITE) (Linux 5.14) maps a
// whole block in one call: about a third of the time in all. Blocks under 1 MiB, and kernels
// without it, are left as they are. Part of the program only (not of the libraries, nor of the
// sanitizer builds, whose own operator new must pair with their operator delete).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t prefault_min = std::size_t{1} << 20;
#ifdef MADV_POPULATE_WRITE
constexpr int populate_write = MADV_POPULATE_WRITE;
#else
constexpr int populate_write = 23;  // Linux's value; older headers lack the name
#endif

void* allocate(std::size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  if (size >= prefault_min) {
    static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto first = (reinterpret_cast<std::uintptr_t>(block) + page - 1) / page * page;
    const auto last = (reinterpret_cast<std::uintptr_t>(block) + size) / page * page;
    // Only a hint: where it fails, the pages are mapped at their first use as usual.
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, populate_write);
  }
  return block;
}

}  // namespace

// The default operator delete frees with std::free, and the other forms of operator new call
// these two.
void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
