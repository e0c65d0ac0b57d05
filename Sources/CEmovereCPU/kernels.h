/* The kernels of CEmovereCPU.h, written once. Each kernels_<set>.c includes this file after defining
 * LANES (floats per vector) and VARIANT(name) (the exported name for its instruction set), inside a
 * `#pragma clang attribute` that compiles every function for that set, and WIDE_VECTORS (vectors of filters in a
 * wide convolution block: as many as the set's registers hold beside 6 pixels' accumulators). `a + b * c` on
 * vectors contracts to a fused multiply-add where the set has one. */

typedef float vec __attribute__((vector_size(LANES * 4)));
typedef float unaligned_vec __attribute__((vector_size(LANES * 4), aligned(4)));
typedef int mask_vec __attribute__((vector_size(LANES * 4)));

static inline vec load(const float *p) { return *(const unaligned_vec *)p; }
static inline void store(float *p, vec v) { *(unaligned_vec *)p = v; }
static inline vec splat(float s) { return ((vec){0} + 1.0f) * s; }
/* Lanes of `a` where `mask` is set (all ones), of `b` elsewhere. */
static inline vec select_lanes(mask_vec mask, vec a, vec b) {
    return (vec)(((mask_vec)a & mask) | ((mask_vec)b & ~mask));
}
/* `v` raised to at least `floor` (0 for a fused ReLU, -infinity for none); a NaN stays NaN, as in the frameworks, so a
 * diverging network shows in its loss (a plain `max` instruction would turn it into `floor`). */
static inline vec clamp(vec v, vec floor) { return select_lanes(v < floor, floor, v); }

/* The first `count` lanes of `v` (count < LANES) to `p`, or from `p` with zeros after. */
static inline void store_partial(float *p, vec v, long count) {
    for (long lane = 0; lane < count; lane++) p[lane] = v[lane];
}
static inline vec load_partial(const float *p, long count) {
    vec v = {0};
    for (long lane = 0; lane < count; lane++) v[lane] = p[lane];
    return v;
}

void VARIANT(emovere_conv_wide)(const float *const *corners, long row_step, long kernel_height, long run_length,
                                const float *weights, long weight_stride, const float *bias, float floor,
                                long valid, float *out, long out_stride) {
    /* 6 x WIDE_VECTORS accumulators; the constant-bound loops unroll and stay in registers. Each pixel's broadcast
     * is used at once, so only one is live: with 16 registers (AVX2: 12 accumulators, 2 weight vectors) six live
     * broadcasts made the compiler spill accumulators to the stack inside the loop (3x slower). */
    vec a[6][WIDE_VECTORS];
    for (int v = 0; v < WIDE_VECTORS; v++) {
        vec b = bias ? load(bias + v * LANES) : splat(0);
        for (int p = 0; p < 6; p++) a[p][v] = b;
    }
    for (long ky = 0; ky < kernel_height; ky++) {
        long offset = ky * row_step;
        const float *pixel[6];
        for (int p = 0; p < 6; p++) pixel[p] = corners[p] + offset;
        const float *w = weights + ky * run_length * weight_stride;
        for (long tap = 0; tap < run_length; tap++, w += weight_stride) {
            vec wv[WIDE_VECTORS];
            for (int v = 0; v < WIDE_VECTORS; v++) wv[v] = load(w + v * LANES);
            for (int p = 0; p < 6; p++) {
                vec s = splat(pixel[p][tap]);
                for (int v = 0; v < WIDE_VECTORS; v++) a[p][v] = a[p][v] + s * wv[v];
            }
        }
    }
    vec f = splat(floor);
    for (long p = 0; p < valid && p < 6; p++) {
        for (int v = 0; v < WIDE_VECTORS; v++) store(out + p * out_stride + v * LANES, clamp(a[p][v], f));
    }
}

void VARIANT(emovere_conv_narrow)(const float *const *corners, long row_step, long kernel_height, long run_length,
                                  const float *weights, long weight_stride, const float *bias, float floor,
                                  long valid, long filters, float *out, long out_stride) {
    vec b = !bias ? splat(0) : filters == LANES ? load(bias) : load_partial(bias, filters);
    vec a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
    for (long ky = 0; ky < kernel_height; ky++) {
        long offset = ky * row_step;
        const float *p0 = corners[0] + offset, *p1 = corners[1] + offset, *p2 = corners[2] + offset;
        const float *p3 = corners[3] + offset, *p4 = corners[4] + offset, *p5 = corners[5] + offset;
        const float *p6 = corners[6] + offset, *p7 = corners[7] + offset, *p8 = corners[8] + offset;
        const float *p9 = corners[9] + offset, *p10 = corners[10] + offset, *p11 = corners[11] + offset;
        const float *w = weights + ky * run_length * weight_stride;
        for (long tap = 0; tap < run_length; tap++, w += weight_stride) {
            vec w0 = load(w);
            a0 = a0 + splat(p0[tap]) * w0; a1 = a1 + splat(p1[tap]) * w0; a2 = a2 + splat(p2[tap]) * w0;
            a3 = a3 + splat(p3[tap]) * w0; a4 = a4 + splat(p4[tap]) * w0; a5 = a5 + splat(p5[tap]) * w0;
            a6 = a6 + splat(p6[tap]) * w0; a7 = a7 + splat(p7[tap]) * w0; a8 = a8 + splat(p8[tap]) * w0;
            a9 = a9 + splat(p9[tap]) * w0; a10 = a10 + splat(p10[tap]) * w0; a11 = a11 + splat(p11[tap]) * w0;
        }
    }
    vec f = splat(floor);
    vec results[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (long p = 0; p < valid && p < 12; p++) {
        if (filters == LANES) {
            store(out + p * out_stride, clamp(results[p], f));
        } else {
            store_partial(out + p * out_stride, clamp(results[p], f), filters);
        }
    }
}

/* Lane lists for the paired kernel: the even or odd lanes of two vectors side by side, and a vector's halves. */
#if LANES == 16
#define EVEN_LANES 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define ODD_LANES 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define LOW_HALF 0, 1, 2, 3, 4, 5, 6, 7
#define HIGH_HALF 8, 9, 10, 11, 12, 13, 14, 15
#elif LANES == 8
#define EVEN_LANES 0, 2, 4, 6, 8, 10, 12, 14
#define ODD_LANES 1, 3, 5, 7, 9, 11, 13, 15
#define LOW_HALF 0, 1, 2, 3
#define HIGH_HALF 4, 5, 6, 7
#else
#define EVEN_LANES 0, 2, 4, 6
#define ODD_LANES 1, 3, 5, 7
#define LOW_HALF 0, 1
#define HIGH_HALF 2, 3
#endif
typedef long long pair_vec __attribute__((vector_size(LANES * 4)));
typedef float half_vec __attribute__((vector_size(LANES * 2), aligned(4)));

/* The two floats at `p` repeated across the vector (one 64-bit broadcast load): lanes 2f and 2f+1 get p[0], p[1].
 * Their bits travel as an integer: as a double they could be a denormal or a NaN, which arithmetic would change. */
static inline vec splat_pair(const float *p) {
    long long both;
    __builtin_memcpy(&both, p, sizeof both);
    return (vec)((pair_vec){0} + both);
}

/* The first `count` lanes of `v` (count <= LANES / 2) to `p`. */
static inline void store_half(float *p, half_vec v, long count) {
    if (count == LANES / 2) {
        *(half_vec *)p = v;
    } else {
        for (long lane = 0; lane < count; lane++) p[lane] = v[lane];
    }
}

void VARIANT(emovere_conv_paired)(const float *const *corners, long row_step, long kernel_height, long run_length,
                                  const float *weights, const float *bias, float floor, long valid, long filters,
                                  float *out, long out_stride) {
    /* Lane 2f sums filter f's products over even taps, lane 2f+1 over odd ones: each multiply-add takes two taps of
     * one pixel (a 64-bit broadcast) against two weight rows, so half-vector filter counts fill whole vectors. */
    vec start = {0};
    for (long f = 0; f < filters && bias; f++) start[2 * f] = bias[f];
    vec a[12];
    for (int p = 0; p < 12; p++) a[p] = start;
    for (long ky = 0; ky < kernel_height; ky++) {
        long offset = ky * row_step;
        const float *pixel[12];
        for (int p = 0; p < 12; p++) pixel[p] = corners[p] + offset;
        const float *w = weights + ky * run_length / 2 * LANES;
        for (long tap = 0; tap < run_length; tap += 2, w += LANES) {
            vec w0 = load(w);
            for (int p = 0; p < 12; p++) a[p] = a[p] + splat_pair(pixel[p] + tap) * w0;
        }
    }
    /* Pixels p and p+1 together: their even lanes beside their odd lanes, summed, give p's filters in the low half
     * and p+1's in the high half. */
    vec f = splat(floor);
    for (long p = 0; p < valid && p < 12; p += 2) {
        vec sums = __builtin_shufflevector(a[p], a[p + 1], EVEN_LANES)
                   + __builtin_shufflevector(a[p], a[p + 1], ODD_LANES);
        sums = clamp(sums, f);
        store_half(out + p * out_stride, __builtin_shufflevector(sums, sums, LOW_HALF), filters);
        if (p + 1 < valid) {
            store_half(out + (p + 1) * out_stride, __builtin_shufflevector(sums, sums, HIGH_HALF), filters);
        }
    }
}

/* `rows` output rows of `count` pixels of a one-channel, stride-1 convolution: output row r's pixel x has the window
 * of `kernel_width` values at `input + (r + ky) * input_width + x` for each kernel row ky. Each pixel and filter sums
 * exactly as emovere_conv_wide and _narrow do (the bias, then the taps row by row, one multiply-add each), so the
 * results are theirs bit for bit; whole rows per call spare the window corners those kernels gather for every 12
 * pixels, which cost more than 9 taps of arithmetic. At most LANES / 2 filters take two pixels per multiply-add:
 * neighbouring windows are one value apart, so one 64-bit broadcast holds both pixels' value of a tap, against each
 * filter's weight in two neighbouring lanes. Pixels go in blocks of 8, 4, 2 and 1 (pairs, for the paired path), so
 * the accumulators of a block are independent chains. */

/* a[0 ..< n] += the products of n pixel pairs from `row` (n a constant where inlined, so the loops unroll). */
static inline __attribute__((always_inline)) void single_channel_pair_sums(const float *row, long input_width,
                                                                           long kernel_height, long kernel_width,
                                                                           const vec *twice, vec *a, int n) {
    for (long ky = 0; ky < kernel_height; ky++, row += input_width) {
        const vec *w = twice + ky * kernel_width;
        for (long kx = 0; kx < kernel_width; kx++) {
            for (int j = 0; j < n; j++) a[j] = a[j] + splat_pair(row + 2 * j + kx) * w[kx];
        }
    }
}

/* n pixel pairs from `row`, stored at `out`: pair j's even lanes are pixel 2j, its odd lanes pixel 2j + 1. */
static inline __attribute__((always_inline)) void single_channel_pair_block(const float *row, long input_width,
                                                                            long kernel_height, long kernel_width,
                                                                            const vec *twice, vec start, vec floor,
                                                                            long filters, float *out, long out_stride,
                                                                            int n) {
    vec a[8];
    for (int j = 0; j < n; j++) a[j] = start;
    single_channel_pair_sums(row, input_width, kernel_height, kernel_width, twice, a, n);
    for (int j = 0; j < n; j += 2) {
        vec second = j + 1 < n ? a[j + 1] : a[j];
        vec even = clamp(__builtin_shufflevector(a[j], second, EVEN_LANES), floor);
        vec odd = clamp(__builtin_shufflevector(a[j], second, ODD_LANES), floor);
        float *pixel = out + 2 * j * out_stride;
        store_half(pixel, __builtin_shufflevector(even, even, LOW_HALF), filters);
        store_half(pixel + out_stride, __builtin_shufflevector(odd, odd, LOW_HALF), filters);
        if (j + 1 < n) {
            store_half(pixel + 2 * out_stride, __builtin_shufflevector(even, even, HIGH_HALF), filters);
            store_half(pixel + 3 * out_stride, __builtin_shufflevector(odd, odd, HIGH_HALF), filters);
        }
    }
}

/* n pixels from `row`, filters f0 ..< f0 + width (width <= LANES; `full`: width == LANES). n and full are constants
 * where inlined, so the loops unroll and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void single_channel_block(const float *row, long input_width,
                                                                       long kernel_height, long kernel_width,
                                                                       const float *weights, long weight_stride,
                                                                       long width, vec start, vec floor, float *out,
                                                                       long out_stride, int n, int full) {
    vec a[8];
    for (int p = 0; p < n; p++) a[p] = start;
    const float *w = weights;
    for (long ky = 0; ky < kernel_height; ky++, row += input_width) {
        for (long kx = 0; kx < kernel_width; kx++, w += weight_stride) {
            vec wv = full ? load(w) : load_partial(w, width);
            for (int p = 0; p < n; p++) a[p] = a[p] + splat(row[p + kx]) * wv;
        }
    }
    for (int p = 0; p < n; p++) {
        if (full) {
            store(out + p * out_stride, clamp(a[p], floor));
        } else {
            store_partial(out + p * out_stride, clamp(a[p], floor), width);
        }
    }
}

/* Pixels `0 ..< count` of `rows` rows, filters f0 ..< f0 + width, in blocks of 8, 4, 2 and 1. */
static inline __attribute__((always_inline)) void single_channel_rows(const float *input, long input_width, long rows,
                                                                      long kernel_height, long kernel_width, long count,
                                                                      const float *weights, long weight_stride,
                                                                      long width, vec start, vec floor, float *out,
                                                                      long out_stride, int full) {
    for (long r = 0; r < rows; r++) {
        const float *row = input + r * input_width;
        float *o = out + r * count * out_stride;
        long x = 0;
        for (; x + 8 <= count; x += 8) {
            single_channel_block(row + x, input_width, kernel_height, kernel_width, weights, weight_stride, width,
                                 start, floor, o + x * out_stride, out_stride, 8, full);
        }
        if (x + 4 <= count) {
            single_channel_block(row + x, input_width, kernel_height, kernel_width, weights, weight_stride, width,
                                 start, floor, o + x * out_stride, out_stride, 4, full);
            x += 4;
        }
        if (x + 2 <= count) {
            single_channel_block(row + x, input_width, kernel_height, kernel_width, weights, weight_stride, width,
                                 start, floor, o + x * out_stride, out_stride, 2, full);
            x += 2;
        }
        if (x < count) {
            single_channel_block(row + x, input_width, kernel_height, kernel_width, weights, weight_stride, width,
                                 start, floor, o + x * out_stride, out_stride, 1, full);
        }
    }
}

void VARIANT(emovere_conv_single_channel)(const float *input, long input_width, long rows, long kernel_height,
                                          long kernel_width, long count, const float *weights, long weight_stride,
                                          long filters, const float *bias, float floor, float *out, long out_stride) {
    vec fl = splat(floor);
    if (2 * filters <= LANES) {
        vec twice[EMOVERE_SINGLE_CHANNEL_TAPS];
        for (long t = 0; t < kernel_height * kernel_width; t++) {
            vec w = {0};
            for (long f = 0; f < filters; f++) w[2 * f] = w[2 * f + 1] = weights[t * weight_stride + f];
            twice[t] = w;
        }
        vec start = {0};
        for (long f = 0; f < filters && bias; f++) start[2 * f] = start[2 * f + 1] = bias[f];
        vec one = !bias ? splat(0) : load_partial(bias, filters); /* the start of an odd last pixel, alone */
        for (long r = 0; r < rows; r++) {
            const float *row = input + r * input_width;
            float *o = out + r * count * out_stride;
            long x = 0;
            for (; x + 16 <= count; x += 16) {
                single_channel_pair_block(row + x, input_width, kernel_height, kernel_width, twice, start, fl, filters,
                                          o + x * out_stride, out_stride, 8);
            }
            if (x + 8 <= count) {
                single_channel_pair_block(row + x, input_width, kernel_height, kernel_width, twice, start, fl, filters,
                                          o + x * out_stride, out_stride, 4);
                x += 8;
            }
            if (x + 4 <= count) {
                single_channel_pair_block(row + x, input_width, kernel_height, kernel_width, twice, start, fl, filters,
                                          o + x * out_stride, out_stride, 2);
                x += 4;
            }
            if (x + 2 <= count) {
                single_channel_pair_block(row + x, input_width, kernel_height, kernel_width, twice, start, fl, filters,
                                          o + x * out_stride, out_stride, 1);
                x += 2;
            }
            if (x < count) { /* the odd last pixel alone: its partner's value would be read past the row */
                single_channel_block(row + x, input_width, kernel_height, kernel_width, weights, weight_stride,
                                     filters, one, fl, o + x * out_stride, out_stride, 1, 0);
            }
        }
        return;
    }
    for (long f0 = 0; f0 < filters; f0 += LANES) {
        long width = filters - f0 < LANES ? filters - f0 : LANES;
        vec start = !bias ? splat(0) : width == LANES ? load(bias + f0) : load_partial(bias + f0, width);
        if (width == LANES) {
            single_channel_rows(input, input_width, rows, kernel_height, kernel_width, count, weights + f0,
                                weight_stride, width, start, fl, out + f0, out_stride, 1);
        } else {
            single_channel_rows(input, input_width, rows, kernel_height, kernel_width, count, weights + f0,
                                weight_stride, width, start, fl, out + f0, out_stride, 0);
        }
    }
}

/* im2col for `count` output pixels whose windows are all in frame: pixel p's window is `kernel_height` runs of
 * `run_length` floats, `row_step` apart, from `first + p * pixel_step`, copied one after another to
 * `out + p * kernel_height * run_length`. `emovere_col2im_row` adds them back, pixel after pixel. */
static inline void copy_run(const float *from, float *to, long length) {
    long i = 0;
    for (; i + LANES <= length; i += LANES) store(to + i, load(from + i));
    for (; i < length; i++) to[i] = from[i];
}

void VARIANT(emovere_im2col_row)(const float *first, long row_step, long kernel_height, long run_length,
                                 long pixel_step, long count, float *out) {
    for (long p = 0; p < count; p++) {
        for (long ky = 0; ky < kernel_height; ky++) {
            copy_run(first + p * pixel_step + ky * row_step, out + (p * kernel_height + ky) * run_length, run_length);
        }
    }
}

void VARIANT(emovere_col2im_row)(const float *columns, long row_step, long kernel_height, long run_length,
                                 long pixel_step, long count, float *first) {
    for (long p = 0; p < count; p++) {
        for (long ky = 0; ky < kernel_height; ky++) {
            const float *from = columns + (p * kernel_height + ky) * run_length;
            float *to = first + p * pixel_step + ky * row_step;
            long i = 0;
            for (; i + LANES <= run_length; i += LANES) store(to + i, load(to + i) + load(from + i));
            for (; i < run_length; i++) to[i] += from[i];
        }
    }
}

/* Weight gradients, out += aᵀ b over `rows` rows: column j of `a` (row stride `a_stride`; the first `valid` stored)
 * times a block of `b`'s columns (row stride `b_stride`), summed row by row in registers, then added to
 * `out + j * out_stride`. Rows before `whole` read the block's full width of `a` and whole vectors of `b` from one
 * pointer each (reads past a short block or a narrow row land in the next row, in columns and lanes never stored);
 * the last rows, where such reads would pass the end of the data, repeat the last column and load only `filters`. */
static inline long rows_before_end(long rows, long missing_a, long a_stride, long missing_b, long b_stride) {
    long a_rows = missing_a > 0 ? (missing_a + a_stride - 1) / a_stride : 0;
    long b_rows = missing_b > 0 ? (missing_b + b_stride - 1) / b_stride : 0;
    long whole = rows - (a_rows > b_rows ? a_rows : b_rows);
    return whole > 0 ? whole : 0;
}

/* Rows `from ..< to` of a wide block, column j read at `min(j, last)`: with `last` the constant 5 once inlined. */
static inline __attribute__((always_inline)) void outer_wide_rows(vec acc[6][WIDE_VECTORS], const float *a,
                                                                   long a_stride, const float *b, long b_stride,
                                                                   long from, long to, long last) {
    for (long r = from; r < to; r++) {
        const float *x = a + r * a_stride;
        vec bv[WIDE_VECTORS];
        for (int v = 0; v < WIDE_VECTORS; v++) bv[v] = load(b + r * b_stride + v * LANES);
        for (int j = 0; j < 6; j++) {
            vec s = splat(x[j < last ? j : last]);
            for (int v = 0; v < WIDE_VECTORS; v++) acc[j][v] = acc[j][v] + s * bv[v];
        }
    }
}

void VARIANT(emovere_outer_wide)(const float *a, long a_stride, long valid, const float *b, long b_stride, long rows,
                                 float *out, long out_stride) {
    vec acc[6][WIDE_VECTORS];
    for (int j = 0; j < 6; j++) {
        for (int v = 0; v < WIDE_VECTORS; v++) acc[j][v] = splat(0);
    }
    long whole = rows_before_end(rows, 6 - valid, a_stride, 0, b_stride);
    outer_wide_rows(acc, a, a_stride, b, b_stride, 0, whole, 5);
    outer_wide_rows(acc, a, a_stride, b, b_stride, whole, rows, valid - 1);
    for (long j = 0; j < valid && j < 6; j++) {
        for (int v = 0; v < WIDE_VECTORS; v++) {
            float *target = out + j * out_stride + v * LANES;
            store(target, load(target) + acc[j][v]);
        }
    }
}

/* As `emovere_outer_wide` for 12 columns of `a` and `filters` (at most LANES) columns of `b`. */
void VARIANT(emovere_outer_narrow)(const float *a, long a_stride, long valid, const float *b, long b_stride,
                                   long filters, long rows, float *out, long out_stride) {
    vec acc[12];
    for (int j = 0; j < 12; j++) acc[j] = splat(0);
    long whole = rows_before_end(rows, 12 - valid, a_stride, LANES - filters, b_stride);
    long r = 0;
    for (; r < whole; r++) {
        const float *x = a + r * a_stride;
        vec bv = load(b + r * b_stride);
        for (int j = 0; j < 12; j++) acc[j] = acc[j] + splat(x[j]) * bv;
    }
    for (; r < rows; r++) {
        const float *x = a + r * a_stride;
        vec bv = load_partial(b + r * b_stride, filters);
        for (int j = 0; j < 12; j++) acc[j] = acc[j] + splat(x[j < valid ? j : valid - 1]) * bv;
    }
    for (long j = 0; j < valid && j < 12; j++) {
        float *target = out + j * out_stride;
        if (filters == LANES) {
            store(target, load(target) + acc[j]);
        } else {
            for (long lane = 0; lane < filters; lane++) target[lane] += acc[j][lane];
        }
    }
}

/* One kernel row's contribution to four neighbouring pixels: six input columns `c` apart. */
static inline void four_pixel_row(const float *row, long c, vec left, vec middle, vec right,
                                  vec *a0, vec *a1, vec *a2, vec *a3) {
    vec v0 = load(row), v1 = load(row + c), v2 = load(row + 2 * c);
    vec v3 = load(row + 3 * c), v4 = load(row + 4 * c), v5 = load(row + 5 * c);
    *a0 = *a0 + v0 * left + v1 * middle + v2 * right;
    *a1 = *a1 + v1 * left + v2 * middle + v3 * right;
    *a2 = *a2 + v2 * left + v3 * middle + v4 * right;
    *a3 = *a3 + v3 * left + v4 * middle + v5 * right;
}

/* Fewer channels than lanes, a divisor of them: a vector holds LANES / c whole pixels, so the row is a flat run of
 * count * c floats and kernel tap t is tap t's c weights repeated across the lanes. Returns the pixels it did. */
static inline long tiled_depthwise3x3_row(const float *top, const float *middle, const float *bottom,
                                          const float *kernel, long c, float *out, long count) {
    const float *rows[3] = {top, middle, bottom};
    vec w[9];
    for (int t = 0; t < 9; t++) {
        for (int lane = 0; lane < LANES; lane++) w[t][lane] = kernel[t * c + lane % c];
    }
    long length = count * c, i = 0;
    for (; i + 2 * LANES <= length; i += 2 * LANES) {
        vec a0 = splat(0), a1 = splat(0);
        for (int ky = 0; ky < 3; ky++) {
            for (int kx = 0; kx < 3; kx++) {
                const float *p = rows[ky] + i + kx * c;
                a0 = a0 + load(p) * w[3 * ky + kx];
                a1 = a1 + load(p + LANES) * w[3 * ky + kx];
            }
        }
        store(out + i, a0);
        store(out + i + LANES, a1);
    }
    for (; i + LANES <= length; i += LANES) {
        vec a = splat(0);
        for (int t = 0; t < 9; t++) a = a + load(rows[t / 3] + i + (t % 3) * c) * w[t];
        store(out + i, a);
    }
    return i / c;
}

void VARIANT(emovere_depthwise3x3_row)(const float *top, const float *middle, const float *bottom,
                                       const float *kernel, long c, float *out, long count) {
    if (c < LANES && LANES % c == 0) {
        long done = tiled_depthwise3x3_row(top, middle, bottom, kernel, c, out, count);
        long offset = done * c;
        top += offset, middle += offset, bottom += offset, out += offset, count -= done;
    }
    long c0 = 0;
    for (; c0 + LANES <= c; c0 += LANES) {
        const float *w = kernel + c0;
        vec w0 = load(w), w1 = load(w + c), w2 = load(w + 2 * c);
        vec w3 = load(w + 3 * c), w4 = load(w + 4 * c), w5 = load(w + 5 * c);
        vec w6 = load(w + 6 * c), w7 = load(w + 7 * c), w8 = load(w + 8 * c);
        long ox = 0;
        for (; ox + 4 <= count; ox += 4) {
            vec a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
            long offset = ox * c + c0;
            four_pixel_row(top + offset, c, w0, w1, w2, &a0, &a1, &a2, &a3);
            four_pixel_row(middle + offset, c, w3, w4, w5, &a0, &a1, &a2, &a3);
            four_pixel_row(bottom + offset, c, w6, w7, w8, &a0, &a1, &a2, &a3);
            store(out + offset, a0);
            store(out + offset + c, a1);
            store(out + offset + 2 * c, a2);
            store(out + offset + 3 * c, a3);
        }
        for (; ox < count; ox++) {
            long offset = ox * c + c0;
            vec a = load(top + offset) * w0 + load(top + offset + c) * w1 + load(top + offset + 2 * c) * w2
                + load(middle + offset) * w3 + load(middle + offset + c) * w4 + load(middle + offset + 2 * c) * w5
                + load(bottom + offset) * w6 + load(bottom + offset + c) * w7 + load(bottom + offset + 2 * c) * w8;
            store(out + offset, a);
        }
    }
    /* Channels past the last whole vector, one at a time. */
    for (; c0 < c; c0++) {
        const float *w = kernel + c0;
        for (long ox = 0; ox < count; ox++) {
            long offset = ox * c + c0;
            float sum = 0;
            for (long kx = 0; kx < 3; kx++) {
                sum += top[offset + kx * c] * w[kx * c] + middle[offset + kx * c] * w[(3 + kx) * c]
                    + bottom[offset + kx * c] * w[(6 + kx) * c];
            }
            out[offset] = sum;
        }
    }
}

/* Depthwise 3x3 kernel gradient of `count` neighbouring pixels of one output row whose windows are all in frame:
 * dw[t * c + ch] += Σ_p rows[t / 3][(p + t % 3) * c + ch] * dy[p * c + ch], nine accumulators per block of channels
 * (pixels in order), added to `dw` once per call. With fewer channels than lanes, a divisor of them, a vector holds
 * whole pixels and the lanes of each channel are summed at the end. */
static inline void kernel_gradient_scalar(const float *const rows[3], const float *dy, long c, long first_channel,
                                          long first_pixel, long count, float *dw) {
    for (long ch = first_channel; ch < c; ch++) {
        for (long p = first_pixel; p < count; p++) {
            float d = dy[p * c + ch];
            for (int t = 0; t < 9; t++) dw[t * c + ch] += rows[t / 3][(p + t % 3) * c + ch] * d;
        }
    }
}

void VARIANT(emovere_depthwise3x3_kernel_gradient_row)(const float *dy, const float *top, const float *middle,
                                                       const float *bottom, long c, long count, float *dw) {
    const float *const rows[3] = {top, middle, bottom};
    vec a[9];
    if (c < LANES && LANES % c == 0) {
        for (int t = 0; t < 9; t++) a[t] = splat(0);
        long length = count * c, i = 0;
        for (; i + LANES <= length; i += LANES) {
            vec d = load(dy + i);
            for (int t = 0; t < 9; t++) a[t] = a[t] + load(rows[t / 3] + i + (t % 3) * c) * d;
        }
        for (int t = 0; t < 9; t++) {
            for (int lane = 0; lane < LANES; lane++) dw[t * c + lane % c] += a[t][lane];
        }
        kernel_gradient_scalar(rows, dy, c, 0, i / c, count, dw);
        return;
    }
    long c0 = 0;
    for (; c0 + LANES <= c; c0 += LANES) {
        for (int t = 0; t < 9; t++) a[t] = splat(0);
        for (long p = 0; p < count; p++) {
            vec d = load(dy + p * c + c0);
            for (int t = 0; t < 9; t++) a[t] = a[t] + load(rows[t / 3] + (p + t % 3) * c + c0) * d;
        }
        for (int t = 0; t < 9; t++) store(dw + t * c + c0, load(dw + t * c + c0) + a[t]);
    }
    kernel_gradient_scalar(rows, dy, c, c0, 0, count, dw);
}

/* One output pixel of a 3x3 depthwise convolution whose window crosses the border: `taps[t]` is the pixel under tap t
 * (a row of zeros outside the frame). Products are rounded before each sum, taps in order (no fused multiply-add), as
 * the Swift loop these replaced did, so results are bit-identical to earlier builds. */
void VARIANT(emovere_depthwise3x3_pixel)(const float *const *taps, const float *kernel, long c, float *out) {
#pragma clang fp contract(off)
    long c0 = 0;
    for (; c0 + LANES <= c; c0 += LANES) {
        vec a = load(taps[0] + c0) * load(kernel + c0);
        for (int t = 1; t < 9; t++) a = a + load(taps[t] + c0) * load(kernel + t * c + c0);
        store(out + c0, a);
    }
    for (; c0 < c; c0++) {
        float a = taps[0][c0] * kernel[c0];
        for (int t = 1; t < 9; t++) a = a + taps[t][c0] * kernel[t * c + c0];
        out[c0] = a;
    }
}

/* A border pixel's share of the depthwise 3x3 kernel gradient: `dw[t] += taps[t] * dy` for the taps in frame
 * (`taps[t]` not NULL), products rounded before each sum as in `emovere_depthwise3x3_pixel`. */
void VARIANT(emovere_depthwise3x3_kernel_gradient_pixel)(const float *const *taps, const float *dy, long c, float *dw) {
#pragma clang fp contract(off)
    for (int t = 0; t < 9; t++) {
        if (!taps[t]) continue;
        float *target = dw + t * c;
        long c0 = 0;
        for (; c0 + LANES <= c; c0 += LANES) store(target + c0, load(target + c0) + load(taps[t] + c0) * load(dy + c0));
        for (; c0 < c; c0++) target[c0] = target[c0] + taps[t][c0] * dy[c0];
    }
}

/* Batch normalisation over [rows, channels]. Two layouts: when the channels divide a vector (1, 2, 4, ... LANES),
 * each vector holds LANES / channels whole rows ("packed", lane l is channel l % channels); otherwise the
 * channels split into whole vectors and a scalar remainder. Sums run in 4 interleaved accumulators (rows, or packed
 * vectors, taken in turn), added pairwise at the end, so a variant's sums differ from a scalar loop's by rounding. */

typedef int ivec __attribute__((vector_size(LANES * 4)));

/* The gradient that reaches batch norm through its fused ReLU: `dy` (at least `floor`) where the forward pass's
 * output was positive, else 0. That output was `max((x - mean) * scale + shift, 0)`; its sign is recomputed here with
 * the same expression as `emovere_norm_apply` (so the same rounding and contraction) instead of read back. */
static inline vec masked_gradient(vec dy, vec x, vec mean, vec scale, vec shift, vec floor) {
    ivec open = (x - mean) * scale + shift > splat(0);
    return (vec)((ivec)clamp(dy, floor) & open);
}
static inline float masked_gradient_scalar(float dy, float x, float mean, float scale, float shift, float floor) {
    float v = (x - mean) * scale + shift;
    return v > 0 ? (dy < floor ? floor : dy) : 0;
}

/* Whether `channels` whole rows fit a vector exactly: the packed layout. */
static inline int norm_packed(long channels) { return channels <= LANES && LANES % channels == 0; }

/* `p[lane % channels]` in each lane: a per-channel vector in the packed layout. */
static inline vec norm_pattern(const float *p, long channels) {
    vec v;
    for (int lane = 0; lane < LANES; lane++) v[lane] = p[lane % channels];
    return v;
}

/* Adds the 4 accumulators' lanes into per-channel totals (`lane % channels`: packed, or `channels` = LANES). */
static inline void norm_fold(const vec s[4], long channels, float *total) {
    vec t = (s[0] + s[1]) + (s[2] + s[3]);
    for (int lane = 0; lane < LANES; lane++) total[lane % channels] += t[lane];
}

/* The two terms batch norm sums per element: x and x² for the statistics (`dy` NULL); for the backward pass the
 * gradient g (through the fused ReLU when `scale` is given, see `masked_gradient`) and g * xhat. */
typedef struct {
    const float *x, *dy, *mean, *invstd, *scale, *shift;
    float floor;
    long channels;
} norm_terms;

/* Per-channel vectors of one block of lanes: `mean` and `invstd` (backward), `scale` and `shift` (fused ReLU). */
typedef struct {
    vec mean, invstd, scale, shift;
} norm_channels;

static inline void norm_terms_vector(const norm_terms *t, long at, const norm_channels *k, vec *first, vec *second) {
    vec v = load(t->x + at);
    if (!t->dy) {
        *first = v;
        *second = v * v;
        return;
    }
    vec g = t->scale ? masked_gradient(load(t->dy + at), v, k->mean, k->scale, k->shift, splat(t->floor))
                     : load(t->dy + at);
    *first = g;
    *second = g * ((v - k->mean) * k->invstd);
}

static inline void norm_terms_scalar(const norm_terms *t, long at, long c, float *first, float *second) {
    float v = t->x[at];
    if (!t->dy) {
        first[c] += v;
        second[c] += v * v;
        return;
    }
    float g = t->scale ? masked_gradient_scalar(t->dy[at], v, t->mean[c], t->scale[c], t->shift[c], t->floor)
                       : t->dy[at];
    first[c] += g;
    second[c] += g * ((v - t->mean[c]) * t->invstd[c]);
}

/* Adds the terms of `count` vectors at `start + i * step`, in 4 interleaved sums, into per-channel totals: lane l
 * adds to channel `l % fold_channels` of `first` and `second`. */
static inline __attribute__((always_inline)) void norm_sum_vectors(const norm_terms *t, long start, long step,
                                                                   long count, const norm_channels *k,
                                                                   long fold_channels, float *first, float *second) {
    vec zero = splat(0);
    vec s1[4] = {zero, zero, zero, zero}, s2[4] = {zero, zero, zero, zero};
    long i = 0;
    for (; i + 4 <= count; i += 4) {
        for (int u = 0; u < 4; u++) {
            vec a, b;
            norm_terms_vector(t, start + (i + u) * step, k, &a, &b);
            s1[u] = s1[u] + a;
            s2[u] = s2[u] + b;
        }
    }
    for (int u = 0; i < count; i++, u++) {
        vec a, b;
        norm_terms_vector(t, start + i * step, k, &a, &b);
        s1[u] = s1[u] + a;
        s2[u] = s2[u] + b;
    }
    norm_fold(s1, fold_channels, first);
    norm_fold(s2, fold_channels, second);
}

/* Adds the terms of `rows` rows into per-channel `first` and `second`. */
static inline __attribute__((always_inline)) void norm_sums(const norm_terms *t, long rows, float *first,
                                                            float *second) {
    long channels = t->channels;
    vec zero = splat(0);
    if (norm_packed(channels)) {
        norm_channels k = {zero, zero, zero, zero};
        if (t->dy) k.mean = norm_pattern(t->mean, channels), k.invstd = norm_pattern(t->invstd, channels);
        if (t->scale) k.scale = norm_pattern(t->scale, channels), k.shift = norm_pattern(t->shift, channels);
        long vectors = rows / (LANES / channels);
        norm_sum_vectors(t, 0, LANES, vectors, &k, channels, first, second);
        for (long at = vectors * LANES; at < rows * channels; at++) {
            norm_terms_scalar(t, at, at % channels, first, second);
        }
        return;
    }
    long c = 0;
    for (; c + LANES <= channels; c += LANES) {
        norm_channels k = {zero, zero, zero, zero};
        if (t->dy) k.mean = load(t->mean + c), k.invstd = load(t->invstd + c);
        if (t->scale) k.scale = load(t->scale + c), k.shift = load(t->shift + c);
        norm_sum_vectors(t, c, channels, rows, &k, LANES, first + c, second + c);
    }
    for (; c < channels; c++) {
        for (long r = 0; r < rows; r++) norm_terms_scalar(t, r * channels + c, c, first, second);
    }
}

void VARIANT(emovere_norm_moments)(const float *x, long rows, long channels, float *first, float *second) {
    norm_terms terms = {x, NULL, NULL, NULL, NULL, NULL, 0, channels};
    norm_sums(&terms, rows, first, second);
}

void VARIANT(emovere_norm_backward_sums)(const float *x, const float *dy, const float *mean, const float *invstd,
                                         const float *scale, const float *shift, float floor, long rows,
                                         long channels, float *first, float *second) {
    norm_terms terms = {x, dy, mean, invstd, scale, shift, floor, channels};
    norm_sums(&terms, rows, first, second);
}

void VARIANT(emovere_norm_apply)(const float *x, const float *mean, const float *scale, const float *shift,
                                 float floor, long rows, long channels, float *y) {
    vec f = splat(floor);
    long r = 0;
    if (norm_packed(channels)) {
        vec m = norm_pattern(mean, channels), s = norm_pattern(scale, channels), b = norm_pattern(shift, channels);
        long vectors = rows / (LANES / channels);
        for (long i = 0; i < vectors; i++) store(y + i * LANES, clamp((load(x + i * LANES) - m) * s + b, f));
        r = vectors * (LANES / channels);
    }
    for (; r < rows; r++) {
        const float *in = x + r * channels;
        float *out = y + r * channels;
        long c = 0;
        for (; c + LANES <= channels; c += LANES) {
            store(out + c, clamp((load(in + c) - load(mean + c)) * load(scale + c) + load(shift + c), f));
        }
        for (; c < channels; c++) {
            float v = (in[c] - mean[c]) * scale[c] + shift[c];
            out[c] = v < floor ? floor : v;
        }
    }
}

void VARIANT(emovere_norm_backward_apply)(const float *x, const float *dy, const float *mean, const float *invstd,
                                          const float *scale, const float *shift, const float *a, const float *b,
                                          const float *d, float floor, long rows, long channels, float *dx) {
    vec f = splat(floor);
    long r = 0;
    if (norm_packed(channels)) {
        vec m = norm_pattern(mean, channels), k = norm_pattern(invstd, channels);
        vec av = norm_pattern(a, channels), bv = norm_pattern(b, channels), dv = norm_pattern(d, channels);
        vec sv = scale ? norm_pattern(scale, channels) : f, hv = scale ? norm_pattern(shift, channels) : f;
        long vectors = rows / (LANES / channels);
        for (long i = 0; i < vectors; i++) {
            long at = i * LANES;
            vec v = load(x + at);
            vec g = scale ? masked_gradient(load(dy + at), v, m, sv, hv, f) : load(dy + at);
            store(dx + at, av * (g - bv - (v - m) * k * dv));
        }
        r = vectors * (LANES / channels);
    }
    for (; r < rows; r++) {
        long row = r * channels, c = 0;
        for (; c + LANES <= channels; c += LANES) {
            long at = row + c;
            vec v = load(x + at), m = load(mean + c);
            vec g = scale ? masked_gradient(load(dy + at), v, m, load(scale + c), load(shift + c), f) : load(dy + at);
            vec xhat = (v - m) * load(invstd + c);
            store(dx + at, load(a + c) * (g - load(b + c) - xhat * load(d + c)));
        }
        for (; c < channels; c++) {
            long at = row + c;
            float g = scale ? masked_gradient_scalar(dy[at], x[at], mean[c], scale[c], shift[c], floor) : dy[at];
            float xhat = (x[at] - mean[c]) * invstd[c];
            dx[at] = a[c] * (g - b[c] - xhat * d[c]);
        }
    }
}

/* `out = a + b` (`a` alone where `b` is NULL), then the ReLU where `relu` (`clamp`: a NaN stays NaN). The flags are
 * constants in each call, so every loop the dispatcher below instantiates is a plain vector loop. */
static inline __attribute__((always_inline)) void add_rectified(const float *a, const float *b, int relu, long count,
                                                                float *out) {
    vec zero = splat(0);
    long i = 0;
    for (; i + LANES <= count; i += LANES) {
        vec v = b ? load(a + i) + load(b + i) : load(a + i);
        store(out + i, relu ? clamp(v, zero) : v);
    }
    for (; i < count; i++) {
        float v = b ? a[i] + b[i] : a[i];
        out[i] = relu && v < 0 ? 0 : v;
    }
}

void VARIANT(emovere_add)(const float *a, const float *b, int relu, long count, float *out) {
    if (b && relu) {
        add_rectified(a, b, 1, count, out);
    } else if (b) {
        add_rectified(a, b, 0, count, out);
    } else if (relu) {
        add_rectified(a, NULL, 1, count, out);
    } else {
        add_rectified(a, NULL, 0, count, out);
    }
}

void VARIANT(emovere_relu_backward)(const float *y, const float *dy, int guided, long count, float *dx) {
    vec zero = splat(0);
    long i = 0;
    for (; i + LANES <= count; i += LANES) {
        vec g = load(dy + i);
        ivec open = load(y + i) > zero;
        if (guided) open &= g > zero;  /* as the scalar tail: a NaN or negative gradient gives 0 */
        store(dx + i, (vec)((ivec)g & open));
    }
    for (; i < count; i++) dx[i] = y[i] > 0 ? (guided && !(dy[i] > 0) ? 0 : dy[i]) : 0;
}

/* Max pooling of one output pixel: the window's `rows` x `columns` input pixels start at `first` (rows `row_step`
 * floats apart, pixels `channels` apart); with `argmax`, `first_index` is `first`'s offset in its image and each
 * maximum's offset goes to `argmax` (as a float; the first maximum in row-major order wins ties, NaN never wins). */
static inline __attribute__((always_inline)) void max_pool_pixel(const float *first, long first_index, long row_step,
                                                                 long rows, long columns, long channels, float *out,
                                                                 float *argmax, int with_index) {
    vec lane_index;
    for (int lane = 0; lane < LANES; lane++) lane_index[lane] = (float)lane;
    long c0 = 0;
    for (; c0 + LANES <= channels; c0 += LANES) {
        vec best = load(first + c0);
        vec index = splat((float)(first_index + c0)) + lane_index;
        for (long ky = 0; ky < rows; ky++) {
            for (long kx = 0; kx < columns; kx++) {
                long offset = ky * row_step + kx * channels + c0;
                vec value = load(first + offset);
                mask_vec greater = value > best;
                best = select_lanes(greater, value, best);
                if (with_index) index = select_lanes(greater, splat((float)(first_index + offset)) + lane_index, index);
            }
        }
        store(out + c0, best);
        if (with_index) store(argmax + c0, index);
    }
    for (; c0 < channels; c0++) {
        float best = first[c0];
        long best_offset = c0;
        for (long ky = 0; ky < rows; ky++) {
            for (long kx = 0; kx < columns; kx++) {
                long offset = ky * row_step + kx * channels + c0;
                if (first[offset] > best) best = first[offset], best_offset = offset;
            }
        }
        out[c0] = best;
        if (with_index) argmax[c0] = (float)(first_index + best_offset);
    }
}

/* `later` where it is greater than `earlier`, else `earlier`: the serial scan's step, kept for a window's tree. */
static inline vec later_if_greater(vec earlier, vec later) { return select_lanes(later > earlier, later, earlier); }

/* A whole 3x3 window without indices, whole vectors of channels: the same maxima as max_pool_pixel (the first of equal
 * values; NaNs aside), from a tree of independent pairs instead of one chain of nine dependent steps. */
static inline void max_pool_3x3(const float *first, long row_step, long channels, float *out) {
    const float *r0 = first, *r1 = first + row_step, *r2 = first + 2 * row_step;
    for (long c0 = 0; c0 < channels; c0 += LANES) {
        long c1 = c0 + channels, c2 = c0 + 2 * channels;
        vec top = later_if_greater(later_if_greater(load(r0 + c0), load(r0 + c1)),
                                   later_if_greater(load(r0 + c2), load(r1 + c0)));
        vec middle = later_if_greater(later_if_greater(load(r1 + c1), load(r1 + c2)),
                                      later_if_greater(load(r2 + c0), load(r2 + c1)));
        store(out + c0, later_if_greater(later_if_greater(top, middle), load(r2 + c2)));
    }
}

static inline __attribute__((always_inline)) void max_pool_row(const float *first_row, long row_index, long row_step,
                                                               long rows, long count, long stride, long pad_left,
                                                               long pool_width, long input_width, long channels,
                                                               float *out, float *argmax, int with_index) {
    for (long ox = 0; ox < count; ox++) {
        long origin = ox * stride - pad_left;
        long start = origin < 0 ? -origin : 0;
        long end = input_width - origin < pool_width ? input_width - origin : pool_width;
        long offset = (origin + start) * channels;
        if (!with_index && rows == 3 && end - start == 3 && channels % LANES == 0) {
            max_pool_3x3(first_row + offset, row_step, channels, out + ox * channels);
        } else {
            max_pool_pixel(first_row + offset, row_index + offset, row_step, rows, end - start, channels,
                           out + ox * channels, with_index ? argmax + ox * channels : 0, with_index);
        }
    }
}

void VARIANT(emovere_max_pool_row)(const float *first_row, long row_index, long row_step, long rows, long count,
                                   long stride, long pad_left, long pool_width, long input_width, long channels,
                                   float *out, float *argmax) {
    if (argmax) {
        max_pool_row(first_row, row_index, row_step, rows, count, stride, pad_left, pool_width, input_width, channels,
                     out, argmax, 1);
    } else {
        max_pool_row(first_row, row_index, row_step, rows, count, stride, pad_left, pool_width, input_width, channels,
                     out, argmax, 0);
    }
}

float VARIANT(emovere_multiply_add_chains)(long iterations, float multiplier, float addend) {
    /* Twelve independent chains hide the multiply-add latency; nothing touches memory inside the loop. */
    vec a[12];
    vec m = splat(multiplier), c = splat(addend);
    for (int i = 0; i < 12; i++) a[i] = splat((float)i);
    for (long k = 0; k < iterations; k++) {
        for (int i = 0; i < 12; i++) a[i] = a[i] * m + c;
    }
    vec sum = a[0];
    for (int i = 1; i < 12; i++) sum = sum + a[i];
    float total = 0;
    for (int lane = 0; lane < LANES; lane++) total += sum[lane];
    return total;
}
