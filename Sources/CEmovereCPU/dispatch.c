/* Instruction-set detection and the one switch from a set to its compiled kernels. */
#include "CEmovereCPU.h"

#define DECLARE_VARIANTS(suffix)                                                                                  \
    void emovere_conv_wide_##suffix(const float *const *, long, long, long, const float *, long, const float *,  \
                                    float, long, float *, long);                                                  \
    void emovere_conv_narrow_##suffix(const float *const *, long, long, long, const float *, long, const float *, \
                                      float, long, long, float *, long);                                          \
    void emovere_conv_paired_##suffix(const float *const *, long, long, long, const float *, const float *, float, \
                                      long, long, float *, long);                                                 \
    void emovere_conv_single_channel_##suffix(const float *, long, long, long, long, long, const float *, long,    \
                                              long, const float *, float, float *, long);                         \
    void emovere_im2col_row_##suffix(const float *, long, long, long, long, long, float *);                       \
    void emovere_col2im_row_##suffix(const float *, long, long, long, long, long, float *);                       \
    void emovere_outer_wide_##suffix(const float *, long, long, const float *, long, long, float *, long);      \
    void emovere_outer_narrow_##suffix(const float *, long, long, const float *, long, long, long, float *, long); \
    void emovere_depthwise3x3_row_##suffix(const float *, const float *, const float *, const float *, long,      \
                                           float *, long);                                                      \
    void emovere_depthwise3x3_kernel_gradient_row_##suffix(const float *, const float *, const float *,          \
                                                           const float *, long, long, float *);                 \
    void emovere_depthwise3x3_pixel_##suffix(const float *const *, const float *, long, float *);                   \
    void emovere_depthwise3x3_kernel_gradient_pixel_##suffix(const float *const *, const float *, long, float *);   \
    void emovere_norm_moments_##suffix(const float *, long, long, float *, float *);                              \
    void emovere_norm_backward_sums_##suffix(const float *, const float *, const float *, const float *,         \
                                             const float *, const float *, float, long, long, float *, float *);  \
    void emovere_norm_apply_##suffix(const float *, const float *, const float *, const float *, float, long, long, \
                                     float *);                                                                    \
    void emovere_norm_backward_apply_##suffix(const float *, const float *, const float *, const float *,        \
                                              const float *, const float *, const float *, const float *,         \
                                              const float *, float, long, long, float *);                          \
    void emovere_max_pool_row_##suffix(const float *, long, long, long, long, long, long, long, long, long,       \
                                       float *, float *);                                                         \
    void emovere_add_##suffix(const float *, const float *, int, long, float *);                                  \
    void emovere_relu_backward_##suffix(const float *, const float *, int, long, float *);                        \
    float emovere_multiply_add_chains_##suffix(long, float, float);

DECLARE_VARIANTS(portable)

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>

/* A `hw.optional` flag of the kernel (0 when it does not know the name). */
static int apple_flag(const char *name) {
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname(name, &value, &size, NULL, 0) == 0 && value;
}
#endif

DECLARE_VARIANTS(avx2)
DECLARE_VARIANTS(avx512)

/* The register state the operating system saves on context switches (XCR0); valid only when OSXSAVE is set. */
static unsigned long long saved_state_mask(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

emovere_isa emovere_detect_isa(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return EMOVERE_ISA_PORTABLE;
    int has_fma = (ecx >> 12) & 1, has_osxsave = (ecx >> 27) & 1, has_avx = (ecx >> 28) & 1;
    if (!has_osxsave || !has_avx || !has_fma) return EMOVERE_ISA_PORTABLE;
    unsigned long long xcr0 = saved_state_mask();
    if ((xcr0 & 0x6) != 0x6) return EMOVERE_ISA_PORTABLE; /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return EMOVERE_ISA_PORTABLE;
    int has_avx2 = (ebx >> 5) & 1, has_avx512f = (ebx >> 16) & 1;
    if (!has_avx2) return EMOVERE_ISA_PORTABLE;
#if defined(__APPLE__)
    /* macOS turns the AVX-512 state on lazily, at a thread's first AVX-512 instruction: XCR0 shows it off until then. */
    int saves_avx512 = apple_flag("hw.optional.avx512f");
#else
    int saves_avx512 = (xcr0 & 0xE6) == 0xE6; /* opmask, ZMM upper halves, ZMM16-31 */
#endif
    if (has_avx512f && saves_avx512) return EMOVERE_ISA_AVX512;
    return EMOVERE_ISA_AVX2;
}

int emovere_detect_bfloat16(void) {
    if (emovere_detect_isa() != EMOVERE_ISA_AVX512) return 0;
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int has_avx512bw = (ebx >> 30) & 1, has_avx512vl = (ebx >> 31) & 1;
    if (!has_avx512bw || !has_avx512vl || eax < 1) return 0; /* eax: the highest subleaf */
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax >> 5) & 1;
}

int emovere_detect_matrix_tiles(void) {
    if (!emovere_detect_bfloat16()) return 0;
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    int has_amx_bf16 = (edx >> 22) & 1, has_amx_tile = (edx >> 24) & 1;
    if (!has_amx_bf16 || !has_amx_tile) return 0;
    if ((saved_state_mask() & 0x60000) != 0x60000) return 0; /* XTILECFG and XTILEDATA */
#if defined(__linux__)
    /* Linux hands the tile data state to a process only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return 0;
#endif
}

#define DISPATCH(isa, name, ...)                                                                                   \
    switch (isa) {                                                                                                 \
    case EMOVERE_ISA_AVX512: name##_avx512(__VA_ARGS__); break;                                                    \
    case EMOVERE_ISA_AVX2: name##_avx2(__VA_ARGS__); break;                                                        \
    default: name##_portable(__VA_ARGS__); break;                                                                  \
    }
#else
emovere_isa emovere_detect_isa(void) { return EMOVERE_ISA_PORTABLE; }
int emovere_detect_bfloat16(void) { return 0; }
int emovere_detect_matrix_tiles(void) { return 0; }

#define DISPATCH(isa, name, ...)                                                                                   \
    do {                                                                                                           \
        (void)(isa);                                                                                               \
        name##_portable(__VA_ARGS__);                                                                              \
    } while (0)
#endif

long emovere_isa_lanes(emovere_isa isa) {
#if defined(__x86_64__)
    switch (isa) {
    case EMOVERE_ISA_AVX512: return 16;
    case EMOVERE_ISA_AVX2: return 8;
    default: return 4;
    }
#else
    (void)isa;
    return 4;
#endif
}

long emovere_isa_wide_vectors(emovere_isa isa) {
#if defined(__x86_64__)
    return isa == EMOVERE_ISA_AVX512 ? 4 : 2;
#else
    (void)isa;
    return 2;
#endif
}

void emovere_conv_wide(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                       long run_length, const float *weights, long weight_stride, const float *bias, float floor,
                       long valid, float *out, long out_stride) {
    DISPATCH(isa, emovere_conv_wide, corners, row_step, kernel_height, run_length, weights, weight_stride, bias, floor,
             valid, out, out_stride);
}

void emovere_conv_narrow(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                         long run_length, const float *weights, long weight_stride, const float *bias, float floor,
                         long valid, long filters, float *out, long out_stride) {
    DISPATCH(isa, emovere_conv_narrow, corners, row_step, kernel_height, run_length, weights, weight_stride, bias,
             floor, valid, filters, out, out_stride);
}

void emovere_conv_paired(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                         long run_length, const float *weights, const float *bias, float floor, long valid,
                         long filters, float *out, long out_stride) {
    DISPATCH(isa, emovere_conv_paired, corners, row_step, kernel_height, run_length, weights, bias, floor, valid,
             filters, out, out_stride);
}

void emovere_conv_single_channel(emovere_isa isa, const float *input, long input_width, long rows, long kernel_height,
                                 long kernel_width, long count, const float *weights, long weight_stride, long filters,
                                 const float *bias, float floor, float *out, long out_stride) {
    DISPATCH(isa, emovere_conv_single_channel, input, input_width, rows, kernel_height, kernel_width, count, weights,
             weight_stride, filters, bias, floor, out, out_stride);
}

void emovere_im2col_row(emovere_isa isa, const float *first, long row_step, long kernel_height, long run_length,
                        long pixel_step, long count, float *out) {
    DISPATCH(isa, emovere_im2col_row, first, row_step, kernel_height, run_length, pixel_step, count, out);
}

void emovere_col2im_row(emovere_isa isa, const float *columns, long row_step, long kernel_height, long run_length,
                        long pixel_step, long count, float *first) {
    DISPATCH(isa, emovere_col2im_row, columns, row_step, kernel_height, run_length, pixel_step, count, first);
}

void emovere_outer_wide(emovere_isa isa, const float *a, long a_stride, long valid, const float *b, long b_stride,
                        long rows, float *out, long out_stride) {
    DISPATCH(isa, emovere_outer_wide, a, a_stride, valid, b, b_stride, rows, out, out_stride);
}

void emovere_outer_narrow(emovere_isa isa, const float *a, long a_stride, long valid, const float *b, long b_stride,
                          long filters, long rows, float *out, long out_stride) {
    DISPATCH(isa, emovere_outer_narrow, a, a_stride, valid, b, b_stride, filters, rows, out, out_stride);
}

void emovere_depthwise3x3_row(emovere_isa isa, const float *top, const float *middle, const float *bottom,
                              const float *kernel, long channels, float *out, long count) {
    DISPATCH(isa, emovere_depthwise3x3_row, top, middle, bottom, kernel, channels, out, count);
}

void emovere_depthwise3x3_kernel_gradient_row(emovere_isa isa, const float *dy, const float *top, const float *middle,
                                              const float *bottom, long channels, long count, float *dw) {
    DISPATCH(isa, emovere_depthwise3x3_kernel_gradient_row, dy, top, middle, bottom, channels, count, dw);
}

void emovere_norm_moments(emovere_isa isa, const float *x, long rows, long channels, float *first, float *second) {
    DISPATCH(isa, emovere_norm_moments, x, rows, channels, first, second);
}

void emovere_norm_backward_sums(emovere_isa isa, const float *x, const float *dy, const float *mean,
                                const float *invstd, const float *scale, const float *shift, float floor, long rows,
                                long channels, float *first, float *second) {
    DISPATCH(isa, emovere_norm_backward_sums, x, dy, mean, invstd, scale, shift, floor, rows, channels, first, second);
}

void emovere_depthwise3x3_pixel(emovere_isa isa, const float *const *taps, const float *kernel, long channels,
                                float *out) {
    DISPATCH(isa, emovere_depthwise3x3_pixel, taps, kernel, channels, out);
}

void emovere_depthwise3x3_kernel_gradient_pixel(emovere_isa isa, const float *const *taps, const float *dy,
                                                long channels, float *dw) {
    DISPATCH(isa, emovere_depthwise3x3_kernel_gradient_pixel, taps, dy, channels, dw);
}

void emovere_max_pool_row(emovere_isa isa, const float *first_row, long row_index, long row_step, long rows, long count,
                          long stride, long pad_left, long pool_width, long input_width, long channels, float *out,
                          float *argmax) {
    DISPATCH(isa, emovere_max_pool_row, first_row, row_index, row_step, rows, count, stride, pad_left, pool_width,
             input_width, channels, out, argmax);
}

void emovere_norm_apply(emovere_isa isa, const float *x, const float *mean, const float *scale, const float *shift,
                        float floor, long rows, long channels, float *y) {
    DISPATCH(isa, emovere_norm_apply, x, mean, scale, shift, floor, rows, channels, y);
}

void emovere_norm_backward_apply(emovere_isa isa, const float *x, const float *dy, const float *mean,
                                 const float *invstd, const float *scale, const float *shift, const float *a,
                                 const float *b, const float *d, float floor, long rows, long channels, float *dx) {
    DISPATCH(isa, emovere_norm_backward_apply, x, dy, mean, invstd, scale, shift, a, b, d, floor, rows, channels, dx);
}

void emovere_add(emovere_isa isa, const float *a, const float *b, int relu, long count, float *out) {
    DISPATCH(isa, emovere_add, a, b, relu, count, out);
}

void emovere_relu_backward(emovere_isa isa, const float *y, const float *dy, int guided, long count, float *dx) {
    DISPATCH(isa, emovere_relu_backward, y, dy, guided, count, dx);
}

float emovere_multiply_add_chains(emovere_isa isa, long iterations, float multiplier, float addend) {
#if defined(__x86_64__)
    if (isa == EMOVERE_ISA_AVX512) return emovere_multiply_add_chains_avx512(iterations, multiplier, addend);
    if (isa == EMOVERE_ISA_AVX2) return emovere_multiply_add_chains_avx2(iterations, multiplier, addend);
#endif
    (void)isa;
    return emovere_multiply_add_chains_portable(iterations, multiplier, addend);
}
