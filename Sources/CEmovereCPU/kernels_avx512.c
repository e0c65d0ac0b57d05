/* The kernels for AVX-512F: 512-bit vectors. Compiled on x86-64 only; chosen at run time. */
#include "CEmovereCPU.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#define LANES 16
#define WIDE_VECTORS 4
#define VARIANT(name) name##_avx512
#include "kernels.h"
#pragma clang attribute pop
#endif
