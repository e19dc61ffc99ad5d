// C++ through the installed headers: every public header is usable from C++
// (extern "C"), and the library linked at run time is the one compiled against.
#include <streamsy/typed.h>

#include <cstdio>
#include <cstring>

int main() {
    if (std::strcmp(ss_version(), STREAMSY_VERSION) != 0) {
        std::printf("ss_version() %s, STREAMSY_VERSION %s\n", ss_version(), STREAMSY_VERSION);
        return 1;
    }
    ss_stream_factory *f = nullptr;
    if (ss_memory_factory_new(nullptr, &f) != SS_OK)
        return 1;
    std::printf("streamsy %s from C++, storage %s\n", ss_version(), ss_storage_name(f));
    ss_storage_factory_free(f);
    return 0;
}
