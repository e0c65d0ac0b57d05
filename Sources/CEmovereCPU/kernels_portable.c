/* The kernels at the compiler's baseline: 128-bit vectors (SSE2 on x86-64, NEON on arm64). */
#include "CEmovereCPU.h"

#define LANES 4
#define WIDE_VECTORS 2
#define VARIANT(name) name##_portable
#include "kernels.h"
