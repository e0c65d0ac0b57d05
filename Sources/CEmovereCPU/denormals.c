#include "CEmovereCPU.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>

unsigned long long emovere_flush_denormals(void) {
    unsigned int state = _mm_getcsr();
    _mm_setcsr(state | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
    return state;
}

void emovere_restore_denormals(unsigned long long state) {
    _mm_setcsr((unsigned int)state);
}
#elif defined(__aarch64__)
unsigned long long emovere_flush_denormals(void) {
    unsigned long long state;
    __asm__ volatile("mrs %0, fpcr" : "=r"(state));
    __asm__ volatile("msr fpcr, %0" : : "r"(state | (1ULL << 24))); /* FZ */
    return state;
}

void emovere_restore_denormals(unsigned long long state) {
    __asm__ volatile("msr fpcr, %0" : : "r"(state));
}
#else
unsigned long long emovere_flush_denormals(void) { return 0; }
void emovere_restore_denormals(unsigned long long state) { (void)state; }
#endif
