/* The bfloat16 kernels on AMX tiles (Intel Sapphire Rapids and later): the products of `emovere_conv_wide_bf16` and of
 * the weight gradient's outer products as 16x16 tile products (TDPBF16PS), each multiplying 32 values of 16 rows by
 * 32 rows of 16 columns. Intel's cores run AVX512_BF16 pairs at fewer multiply-adds per cycle than float32 FMAs
 * (measured on Emerald Rapids: the AVX512_BF16 path is slower than float32); their tiles run many times more. One
 * variant, for x86-64; the caller checks `emovere_detect_matrix_tiles` first. Elsewhere the functions trap: nothing
 * calls them. */
#include "CEmovereCPU.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(                                                                                   \
    __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma"))), apply_to = function)

/* Window values gathered per call for the A tiles: at most this many of each pixel's window at once (16 pixels x
 * 2 KiB on the stack). A multiple of 32, the values one tile product takes. */
#define WINDOW_SEGMENT 1024

/* The tile layout (palette 1): in the convolution tiles 0-3 the sums of 16 filters each, tile 4 the windows, tiles 5
 * and 6 weights; in the outer products tiles 0-3 sums, 4 and 5 the left rows, 6 and 7 the right columns. */
typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_layout;

/* The rows of tiles 0-4 the calling thread's tiles are configured for (0: not yet; the other tiles have 16): the
 * layout is loaded again only when the count changes, and nearly every call has the same count (a whole block of
 * pixels, or 16 in the outer products). */
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
    for (int t = 5; t < 8; t++) {
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

/* The 16x16 floats in `m` transposed in place (m[i][j] becomes m[j][i]): pairs of rows interleaved by values, then
 * by pairs of values, then the 128-bit quarters gathered. */
static inline void transpose16(__m512 m[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) { /* t[i], t[i+1]: rows i and i+1 interleaved, quarter by quarter */
        t[i] = _mm512_unpacklo_ps(m[i], m[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(m[i], m[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + c], quarter q: rows g..g+3 at column 4q + c */
        for (int h = 0; h < 2; h++) {
            const __m512d a = _mm512_castps_pd(t[g + h]), b = _mm512_castps_pd(t[g + 2 + h]);
            u[g + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            u[g + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    }
    for (int c = 0; c < 4; c++) { /* column 4q + c: quarter q of u[c], u[4 + c], u[8 + c], u[12 + c] */
        const __m512 low = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        const __m512 high = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);
        const __m512 low2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        const __m512 high2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
        m[c] = _mm512_shuffle_f32x4(low, low2, 0x88);
        m[4 + c] = _mm512_shuffle_f32x4(low, low2, 0xdd);
        m[8 + c] = _mm512_shuffle_f32x4(high, high2, 0x88);
        m[12 + c] = _mm512_shuffle_f32x4(high, high2, 0xdd);
    }
}

/* A mask of the first `n` of 16 lanes (none for n <= 0, all for n >= 16). */
static inline __mmask16 first_lanes(long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Rows `first` to `first + 15` of a `rows`-row float matrix at `from` (rows `stride` apart) into `m`, from column
 * `column` on, the lanes of `columns` only; zeros for rows past the last. */
static inline void load_rows(__m512 m[16], const float *from, long first, long rows, long stride, long column,
                             __mmask16 columns) {
    for (int i = 0; i < 16; i++) {
        m[i] = first + i < rows ? _mm512_maskz_loadu_ps(columns, from + (first + i) * stride + column)
                                : _mm512_setzero_ps();
    }
}

void emovere_pack_bfloat16_columns(const float *from, long rows, long columns, long stride, uint16_t *to, long depth,
                                   long padded) {
    for (long c = 0; c < padded; c += 16) {
        const __mmask16 in_columns = first_lanes(columns - c);
        for (long r = 0; r < depth; r += 16) {
            __m512 m[16];
            load_rows(m, from, r, rows, stride, c, in_columns);
            transpose16(m);
            for (int i = 0; i < 16; i++) {
                _mm256_storeu_si256((__m256i *)(to + (c + i) * depth + r), (__m256i)_mm512_cvtneps_pbh(m[i]));
            }
        }
    }
}

void emovere_outer_amx(const uint16_t *left, long left_rows, const uint16_t *right, long right_columns, long depth,
                       float *sums) {
    configure(16);
    const long left_stride = depth * (long)sizeof(uint16_t), right_stride = 2 * right_columns * (long)sizeof(uint16_t);
    const long sum_stride = right_columns * (long)sizeof(float);
    for (long i = 0; i < left_rows; i += 32) {
        const int two_rows = left_rows - i >= 32;
        for (long j = 0; j < right_columns; j += 32) {
            const int two_columns = right_columns - j >= 32;
            float *c = sums + i * right_columns + j;
            _tile_loadd(0, c, sum_stride);
            if (two_columns) _tile_loadd(1, c + 16, sum_stride);
            if (two_rows) _tile_loadd(2, c + 16 * right_columns, sum_stride);
            if (two_rows && two_columns) _tile_loadd(3, c + 16 * right_columns + 16, sum_stride);
            for (long d = 0; d < depth; d += 32) {
                const uint16_t *l = left + i * depth + d, *r = right + d * right_columns + 2 * j;
                _tile_loadd(4, l, left_stride);
                _tile_loadd(6, r, right_stride);
                _tile_dpbf16ps(0, 4, 6);
                if (two_columns) {
                    _tile_loadd(7, r + 32, right_stride);
                    _tile_dpbf16ps(1, 4, 7);
                }
                if (two_rows) {
                    _tile_loadd(5, l + 16 * depth, left_stride);
                    _tile_dpbf16ps(2, 5, 6);
                    if (two_columns) _tile_dpbf16ps(3, 5, 7);
                }
            }
            _tile_stored(0, c, sum_stride);
            if (two_columns) _tile_stored(1, c + 16, sum_stride);
            if (two_rows) _tile_stored(2, c + 16 * right_columns, sum_stride);
            if (two_rows && two_columns) _tile_stored(3, c + 16 * right_columns + 16, sum_stride);
        }
    }
}

void emovere_add_transposed(const float *from, long rows, long columns, long stride, float *to, long to_stride) {
    for (long r = 0; r < rows; r += 16) {
        const __mmask16 in_rows = first_lanes(rows - r);
        for (long c = 0; c < columns; c += 16) {
            const __mmask16 in_columns = first_lanes(columns - c);
            __m512 m[16];
            load_rows(m, from, r, rows, stride, c, in_columns);
            transpose16(m);
            for (int i = 0; i < 16 && c + i < columns; i++) {
                float *target = to + (c + i) * to_stride + r;
                _mm512_mask_storeu_ps(target, in_rows, _mm512_add_ps(_mm512_maskz_loadu_ps(in_rows, target), m[i]));
            }
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

void emovere_pack_bfloat16_columns(const float *from, long rows, long columns, long stride, uint16_t *to, long depth,
                                   long padded) {
    (void)from, (void)rows, (void)columns, (void)stride, (void)to, (void)depth, (void)padded;
    __builtin_trap();
}

void emovere_outer_amx(const uint16_t *left, long left_rows, const uint16_t *right, long right_columns, long depth,
                       float *sums) {
    (void)left, (void)left_rows, (void)right, (void)right_columns, (void)depth, (void)sums;
    __builtin_trap();
}

void emovere_add_transposed(const float *from, long rows, long columns, long stride, float *to, long to_stride) {
    (void)from, (void)rows, (void)columns, (void)stride, (void)to, (void)to_stride;
    __builtin_trap();
}
#endif
