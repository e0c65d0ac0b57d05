/* The bfloat16 direct convolution on AMX tiles (Intel Sapphire Rapids and later): the products of
 * `emovere_conv_wide_bf16` as 16x16 tile products (TDPBF16PS), each multiplying 32 values of 16 windows by 32 weight
 * rows of 16 filters. Intel's cores run AVX512_BF16 pairs at fewer multiply-adds per cycle than float32 FMAs
 * (measured on Emerald Rapids: the AVX512_BF16 path is slower than float32); their tiles run many times more. One
 * variant, for x86-64; the caller checks `emovere_detect_matrix_tiles` first. Elsewhere the function traps: nothing
 * calls it. */
#include "CEmovereCPU.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx2,fma"))), \
                             apply_to = function)

/* Window values gathered per call for the A tiles: at most this many of each pixel's window at once (16 pixels x
 * 2 KiB on the stack). A multiple of 32, the values one tile product takes. */
#define WINDOW_SEGMENT 1024

/* The tile layout (palette 1): tiles 0-3 the sums of 16 filters each, tile 4 the windows, tiles 5 and 6 weights. */
typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_layout;

/* The pixel count the calling thread's tiles are configured for (0: not yet): the layout is loaded again only when
 * the count changes, and nearly every call has the same count (a whole block). */
static __thread int configured_pixels;

static void configure(int pixels) {
    if (configured_pixels == pixels) return;
    tile_layout layout;
    memset(&layout, 0, sizeof layout);
    layout.palette = 1;
    for (int t = 0; t < 5; t++) {
        layout.rows[t] = (uint8_t)pixels;
        layout.bytes_per_row[t] = 64;
    }
    for (int t = 5; t < 7; t++) {
        layout.rows[t] = 16;
        layout.bytes_per_row[t] = 64;
    }
    _tile_loadconfig(&layout);
    configured_pixels = pixels;
}

/* `n` bfloat16 values from `from` to `to`, 32 at a time (a call to memcpy costs more than these short runs). */
static inline void copy_values(uint16_t *to, const uint16_t *from, long n) {
    for (long i = 0; i < n; i += 32) {
        const __mmask32 mask = n - i >= 32 ? ~(__mmask32)0 : (__mmask32)((1u << (n - i)) - 1);
        _mm512_mask_storeu_epi16(to + i, mask, _mm512_maskz_loadu_epi16(mask, from + i));
    }
}

/* The four tile products of 32 window values (tile 4, loaded by the caller) with weight pairs `w` (16 pairs of 64
 * filters, 256 bytes apart) into tiles 0-3. */
static inline void multiply_filters(const uint16_t *w) {
    _tile_loadd(5, w, 256);
    _tile_dpbf16ps(0, 4, 5);
    _tile_loadd(6, w + 32, 256);
    _tile_dpbf16ps(1, 4, 6);
    _tile_loadd(5, w + 64, 256);
    _tile_dpbf16ps(2, 4, 5);
    _tile_loadd(6, w + 96, 256);
    _tile_dpbf16ps(3, 4, 6);
}

/* Windows starting equally far apart (a flat matrix, or pixels of one output row) whose runs are whole multiples of
 * 32 values: each tile of windows is loaded straight from the bfloat16 input, rows `spacing` values apart. */
static void multiply_strided(const uint16_t *first, long spacing, long row_step, long kernel_height,
                             long run_length, const uint16_t *weights) {
    const long stride = spacing * (long)sizeof(uint16_t);
    for (long ky = 0; ky < kernel_height; ky++) {
        for (long t = 0; t < run_length; t += 32) {
            _tile_loadd(4, first + ky * row_step + t, stride);
            multiply_filters(weights + (ky * run_length + t) * 64);
        }
    }
}

/* Any windows: gathered, `WINDOW_SEGMENT` values of each at a time, into rows of a stack buffer, the depth padded
 * with zeros to a multiple of 32 (and the weights past the kernel read as zeros). */
static void multiply_gathered(const float *const *corners, const float *origin, const uint16_t *halves, int pixels,
                              long row_step, long kernel_height, long run_length, const uint16_t *weights) {
    const long depth = kernel_height * run_length, pairs = depth / 2;
    uint16_t windows[16 * WINDOW_SEGMENT] __attribute__((aligned(64)));
    uint16_t last_weights[16 * 128] __attribute__((aligned(64)));
    for (long start = 0; start < depth; start += WINDOW_SEGMENT) {
        const long length = depth - start < WINDOW_SEGMENT ? depth - start : WINDOW_SEGMENT;
        const long padded = (length + 31) & ~31L;
        for (int p = 0; p < pixels; p++) {
            const uint16_t *window = halves + (corners[p] - origin);
            uint16_t *row = windows + p * padded;
            for (long k = start, copied = 0; copied < length;) {
                const long ky = k / run_length, t = k - ky * run_length;
                const long n = run_length - t < length - copied ? run_length - t : length - copied;
                copy_values(row + copied, window + ky * row_step + t, n);
                copied += n;
                k += n;
            }
            memset(row + length, 0, (size_t)(padded - length) * sizeof(uint16_t));
        }
        for (long c = 0; c < padded; c += 32) {
            const long first_pair = (start + c) / 2;
            const uint16_t *w = weights + first_pair * 128;
            if (pairs - first_pair < 16) { /* the last rows: zeros past the kernel instead of reading beyond it */
                memset(last_weights, 0, sizeof last_weights);
                memcpy(last_weights, w, (size_t)(pairs - first_pair) * 128 * sizeof(uint16_t));
                w = last_weights;
            }
            _tile_loadd(4, windows + c, padded * (long)sizeof(uint16_t));
            multiply_filters(w);
        }
    }
}

/* `emovere_conv_wide_bf16` for up to 16 pixels at once (weights, windows and result as there). */
void emovere_conv_wide_amx(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                           long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                           float floor, long valid, float *out, long out_stride) {
    const int pixels = valid < 1 ? 1 : valid > 16 ? 16 : (int)valid;
    configure(pixels);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const long spacing = pixels > 1 ? corners[1] - corners[0] : 32;
    int strided = run_length % 32 == 0 && spacing > 0;
    for (int p = 2; p < pixels && strided; p++) strided = corners[p] - corners[p - 1] == spacing;
    if (strided) {
        multiply_strided(halves + (corners[0] - origin), spacing, row_step, kernel_height, run_length, weights);
    } else {
        multiply_gathered(corners, origin, halves, pixels, row_step, kernel_height, run_length, weights);
    }
    float sums[16 * 64] __attribute__((aligned(64)));
    _tile_stored(0, sums, 256);
    _tile_stored(1, sums + 16, 256);
    _tile_stored(2, sums + 32, 256);
    _tile_stored(3, sums + 48, 256);
    const __m512 f = _mm512_set1_ps(floor);
    for (int v = 0; v < 4; v++) {
        const __m512 b = bias ? _mm512_loadu_ps(bias + v * 16) : _mm512_setzero_ps();
        for (int p = 0; p < pixels; p++) {
            const __m512 sum = _mm512_add_ps(_mm512_load_ps(sums + p * 64 + v * 16), b);
            /* Raised to at least `floor`, a NaN kept (as `clamp` in kernels.h). */
            _mm512_storeu_ps(out + p * out_stride + v * 16,
                             _mm512_mask_blend_ps(_mm512_cmp_ps_mask(sum, f, _CMP_LT_OQ), sum, f));
        }
    }
}

#pragma clang attribute pop
#else
void emovere_conv_wide_amx(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                           long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                           float floor, long valid, float *out, long out_stride) {
    (void)corners, (void)origin, (void)halves, (void)row_step, (void)kernel_height, (void)run_length, (void)weights;
    (void)bias, (void)floor, (void)valid, (void)out, (void)out_stride;
    __builtin_trap();
}
#endif
