/* Naming the calling thread for the system (top -H, perf, debuggers). */
#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include "CEmovereCPU.h"

int emovere_name_this_thread(const char *name) {
#if defined(__APPLE__)
    return pthread_setname_np(name);
#elif defined(__linux__)
    return pthread_setname_np(pthread_self(), name);
#else
    (void)name;
    return -1;
#endif
}
