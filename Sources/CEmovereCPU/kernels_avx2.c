/* The kernels for AVX2 and FMA: 256-bit vectors. Compiled on x86-64 only; chosen at run time. */
#include "CEmovereCPU.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LANES 8
#define WIDE_VECTORS 2
#define VARIANT(name) name##_avx2
#include "kernels.h"
#pragma clang attribute pop
#endif
