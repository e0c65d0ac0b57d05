/* The bfloat16 kernels (AVX512_BF16): direct convolution and the weight gradient's outer products, whose
 * multiplications take bfloat16 pairs and whose sums stay in single precision. One variant, for x86-64 CPUs with
 * AVX512_BF16 (Cooper Lake, Sapphire Rapids, AMD Zen 4 and later); the caller checks `emovere_detect_bfloat16`
 * first. Elsewhere these functions trap: nothing calls them. */
#include "CEmovereCPU.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma"))), \
                             apply_to = function)

void emovere_to_bfloat16(const float *from, uint16_t *to, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        _mm256_storeu_si256((__m256i *)(to + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(from + i)));
    }
    if (i < count) {
        __mmask16 mask = (__mmask16)((1u << (count - i)) - 1);
        __m256bh tail = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, from + i));
        _mm256_mask_storeu_epi16(to + i, mask, (__m256i)tail);
    }
}

/* `v` raised to at least `floor`, a NaN kept (as `clamp` in kernels.h; `_mm512_max_ps` would return `floor`). */
static inline __m512 clamp16(__m512 v, __m512 floor) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, floor, _CMP_LT_OQ), v, floor);
}

/* The bfloat16 pair at `p` (two neighbouring values of a window's run) in every 32-bit lane. */
static inline __m512bh pair_splat(const uint16_t *p) {
    uint32_t pair;
    memcpy(&pair, p, sizeof pair);
    return (__m512bh)_mm512_set1_epi32((int)pair);
}

/* The bfloat16 start of each of `count` pixels' window rows `ky`: the corners point into the floats at `origin`,
 * whose bfloat16 copy is at `halves`. */
static inline void window_rows(const uint16_t **pixel, int count, const float *const *corners, const float *origin,
                               const uint16_t *halves, long offset) {
    for (int p = 0; p < count; p++) pixel[p] = halves + (corners[p] - origin) + offset;
}

void emovere_conv_wide_bf16(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                            long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                            float floor, long valid, float *out, long out_stride) {
    /* 6 pixels x 4 vectors of 16 filters: 24 accumulators, 4 weight vectors and one broadcast of 32 registers. */
    __m512 a[6][4];
    for (int v = 0; v < 4; v++) {
        __m512 b = bias ? _mm512_loadu_ps(bias + v * 16) : _mm512_setzero_ps();
        for (int p = 0; p < 6; p++) a[p][v] = b;
    }
    const long pairs = run_length / 2;
    for (long ky = 0; ky < kernel_height; ky++) {
        const uint16_t *pixel[6];
        window_rows(pixel, 6, corners, origin, halves, ky * row_step);
        const uint16_t *w = weights + ky * run_length * 64;
        for (long pair = 0; pair < pairs; pair++, w += 128) {
            __m512bh wv[4];
            for (int v = 0; v < 4; v++) wv[v] = (__m512bh)_mm512_loadu_si512(w + v * 32);
            for (int p = 0; p < 6; p++) {
                __m512bh s = pair_splat(pixel[p] + 2 * pair);
                for (int v = 0; v < 4; v++) a[p][v] = _mm512_dpbf16_ps(a[p][v], s, wv[v]);
            }
        }
    }
    __m512 f = _mm512_set1_ps(floor);
    for (long p = 0; p < valid && p < 6; p++) {
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(out + p * out_stride + v * 16, clamp16(a[p][v], f));
    }
}

void emovere_conv_narrow_bf16(const float *const *corners, const float *origin, const uint16_t *halves,
                              long row_step, long kernel_height, long run_length, const uint16_t *weights,
                              const float *bias, float floor, long valid, long filters, float *out, long out_stride) {
    __mmask16 stored = (__mmask16)((1u << filters) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(stored, bias) : _mm512_setzero_ps();
    __m512 a[12];
    for (int p = 0; p < 12; p++) a[p] = b;
    const long pairs = run_length / 2;
    for (long ky = 0; ky < kernel_height; ky++) {
        const uint16_t *pixel[12];
        window_rows(pixel, 12, corners, origin, halves, ky * row_step);
        const uint16_t *w = weights + ky * run_length * 16;
        for (long pair = 0; pair < pairs; pair++, w += 32) {
            __m512bh wv = (__m512bh)_mm512_loadu_si512(w);
            for (int p = 0; p < 12; p++) a[p] = _mm512_dpbf16_ps(a[p], pair_splat(pixel[p] + 2 * pair), wv);
        }
    }
    __m512 f = _mm512_set1_ps(floor);
    for (long p = 0; p < valid && p < 12; p++) _mm512_mask_storeu_ps(out + p * out_stride, stored, clamp16(a[p], f));
}

/* Rows 2p and 2p+1 of `columns` floats (`stride` apart; the second zero past `rows`) rounded to bfloat16 and
 * interleaved value by value, pair p at `to + 2 * p * padded`; columns from `columns` to `padded` (a multiple of 16)
 * are zero. */
void emovere_pack_bfloat16_pairs(const float *from, long rows, long columns, long stride, uint16_t *to, long padded) {
    for (long p = 0; p < (rows + 1) / 2; p++) {
        const float *first = from + 2 * p * stride;
        const float *second = 2 * p + 1 < rows ? first + stride : NULL;
        uint16_t *target = to + 2 * p * padded;
        for (long c = 0; c < padded; c += 16) {
            long n = columns - c < 0 ? 0 : columns - c > 16 ? 16 : columns - c;
            __mmask16 mask = (__mmask16)((1u << n) - 1);
            __m512i low = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, first + c)));
            __m512i high = second ? _mm512_cvtepu16_epi32(
                (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, second + c))) : _mm512_setzero_si512();
            _mm512_storeu_si512(target + 2 * c, _mm512_or_si512(low, _mm512_slli_epi32(high, 16)));
        }
    }
}

void emovere_outer_wide_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                             long pairs, float *out, long out_stride) {
    __m512 acc[6][4];
    for (int j = 0; j < 6; j++) {
        for (int v = 0; v < 4; v++) acc[j][v] = _mm512_setzero_ps();
    }
    for (long p = 0; p < pairs; p++) {
        const uint16_t *x = a + 2 * p * a_columns;
        __m512bh bv[4];
        for (int v = 0; v < 4; v++) bv[v] = (__m512bh)_mm512_loadu_si512(b + 2 * (p * b_columns + v * 16));
        for (int j = 0; j < 6; j++) {
            __m512bh s = pair_splat(x + 2 * j);
            for (int v = 0; v < 4; v++) acc[j][v] = _mm512_dpbf16_ps(acc[j][v], s, bv[v]);
        }
    }
    for (long j = 0; j < valid && j < 6; j++) {
        for (int v = 0; v < 4; v++) {
            float *target = out + j * out_stride + v * 16;
            _mm512_storeu_ps(target, _mm512_add_ps(_mm512_loadu_ps(target), acc[j][v]));
        }
    }
}

void emovere_outer_narrow_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                               long filters, long pairs, float *out, long out_stride) {
    __m512 acc[12];
    for (int j = 0; j < 12; j++) acc[j] = _mm512_setzero_ps();
    for (long p = 0; p < pairs; p++) {
        const uint16_t *x = a + 2 * p * a_columns;
        __m512bh bv = (__m512bh)_mm512_loadu_si512(b + 2 * p * b_columns);
        for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbf16_ps(acc[j], pair_splat(x + 2 * j), bv);
    }
    __mmask16 stored = (__mmask16)((1u << filters) - 1);
    for (long j = 0; j < valid && j < 12; j++) {
        float *target = out + j * out_stride;
        _mm512_mask_storeu_ps(target, stored, _mm512_add_ps(_mm512_maskz_loadu_ps(stored, target), acc[j]));
    }
}

#pragma clang attribute pop
#else
void emovere_to_bfloat16(const float *from, uint16_t *to, long count) {
    (void)from, (void)to, (void)count;
    __builtin_trap();
}

void emovere_conv_wide_bf16(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                            long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                            float floor, long valid, float *out, long out_stride) {
    (void)corners, (void)origin, (void)halves, (void)row_step, (void)kernel_height, (void)run_length, (void)weights;
    (void)bias, (void)floor, (void)valid, (void)out, (void)out_stride;
    __builtin_trap();
}

void emovere_conv_narrow_bf16(const float *const *corners, const float *origin, const uint16_t *halves,
                              long row_step, long kernel_height, long run_length, const uint16_t *weights,
                              const float *bias, float floor, long valid, long filters, float *out, long out_stride) {
    (void)corners, (void)origin, (void)halves, (void)row_step, (void)kernel_height, (void)run_length, (void)weights;
    (void)bias, (void)floor, (void)valid, (void)filters, (void)out, (void)out_stride;
    __builtin_trap();
}

void emovere_pack_bfloat16_pairs(const float *from, long rows, long columns, long stride, uint16_t *to, long padded) {
    (void)from, (void)rows, (void)columns, (void)stride, (void)to, (void)padded;
    __builtin_trap();
}

void emovere_outer_wide_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                             long pairs, float *out, long out_stride) {
    (void)a, (void)a_columns, (void)valid, (void)b, (void)b_columns, (void)pairs, (void)out, (void)out_stride;
    __builtin_trap();
}

void emovere_outer_narrow_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                               long filters, long pairs, float *out, long out_stride) {
    (void)a, (void)a_columns, (void)valid, (void)b, (void)b_columns, (void)filters, (void)pairs, (void)out;
    (void)out_stride;
    __builtin_trap();
}
#endif
