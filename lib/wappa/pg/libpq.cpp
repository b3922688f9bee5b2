#include "wappa/pg/libpq.hpp"

#include <dlfcn.h>

#include <mutex>

namespace wappa::pg::libpq {

const Api* load(std::string& error) {
    static Api api;
    static std::string failure;
    static std::once_flag once;
    std::call_once(once, [] {
        void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) {
            const char* why = ::dlerror();
            failure = std::string("cannot load libpq.so.5 (install the libpq5 package): ") + (why ? why : "not found");
            return;
        }
#define WAPPA_LIBPQ_RESOLVE(name)                                                          \
    api.name = reinterpret_cast<decltype(&::name)>(::dlsym(lib, #name));                    \
    if (api.name == nullptr && failure.empty()) failure = "libpq.so.5 lacks " #name " (libpq 14 or newer is needed)";
        WAPPA_LIBPQ_FUNCTIONS(WAPPA_LIBPQ_RESOLVE)
#undef WAPPA_LIBPQ_RESOLVE
    });
    if (!failure.empty()) {
        error = failure;
        return nullptr;
    }
    return &api;
}

}  // namespace wappa::pg::libpq
