#include "CEmovereCPU.h"

#if defined(__linux__)
#include <malloc.h>
#endif

int emovere_map_large_allocations(size_t threshold) {
#if defined(M_MMAP_THRESHOLD) && defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, (int)threshold);
#else
    (void)threshold;
    return 0;
#endif
}
