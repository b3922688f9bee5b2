#include "huge_heap.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace wappa::app {
namespace {

constexpr const char* tunable = "glibc.malloc.hugetlb=1";

bool large_input(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    if (S_ISREG(st.st_mode)) return st.st_size >= (4 << 20);
    if (!S_ISFIFO(st.st_mode)) return false;
    // A pipe's writer may still be starting: a few ms for it to fill the pipe's buffer (a large
    // input) or to close it (a small one). Nothing is read.
    for (int wait = 0; wait < 10; ++wait) {
        int pending = 0;
        if (::ioctl(fd, FIONREAD, &pending) != 0) return false;
        if (pending >= (64 << 10)) return true;
        pollfd p{fd, 0, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0) return false;
        ::usleep(500);
    }
    return false;
}

}  // namespace

void restart_with_huge_heap_for(int fd) {
    const char* current = std::getenv("GLIBC_TUNABLES");
    const std::string tunables = current ? current : "";
    if (tunables.find("glibc.malloc.hugetlb") != std::string::npos || !large_input(fd)) return;
    // The arguments as this process got them (argv is not kept by main).
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<char*> argv;
    for (std::size_t start = 0; start < cmdline.size();) {
        argv.push_back(const_cast<char*>(cmdline.c_str() + start));
        start = cmdline.find('\0', start);
        if (start == std::string::npos) break;
        ++start;
    }
    if (argv.empty()) return;
    argv.push_back(nullptr);
    const std::string value = tunables.empty() ? tunable : tunables + ":" + tunable;
    if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
    ::execv("/proc/self/exe", argv.data());
    // Still here: carry on with the ordinary heap.
}

}  // namespace wappa::app
