#pragma once
// A bulk run touches a few hundred MB of fresh heap. On a VM the first touch of every 4 KiB
// page is a costly fault; glibc backs its heaps with transparent huge pages when started with
// the tunable glibc.malloc.hugetlb=1, and only then.

namespace wappa::app {

// When the input behind `fd` is large (a regular file of 4 MiB or more, or a pipe already
// holding a full buffer), re-executes this process once with glibc.malloc.hugetlb=1 added to
// GLIBC_TUNABLES; nothing has been read from `fd` yet, so the new process reads it whole.
// Returns (and the run goes on as it is) when the input is small, the tunable is already
// set, or the re-execution fails.
void restart_with_huge_heap_for(int fd);

}  // namespace wappa::app
