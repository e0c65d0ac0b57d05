#ifndef CEMOVERE_CPU_H
#define CEMOVERE_CPU_H

#include <stddef.h>
#include <stdint.h>

/// Makes the calling thread flush denormal results to zero and read denormal inputs as zero (x86-64: MXCSR FTZ and
/// DAZ; arm64: FPCR FZ). Denormal floats cost up to a hundred times a normal operation on many CPUs, and a trained
/// network's tiny activations and weights produce them; values below 1.2e-38 become 0. Returns the previous state,
/// for `emovere_restore_denormals`.
unsigned long long emovere_flush_denormals(void);

/// Restores the state returned by `emovere_flush_denormals`.
void emovere_restore_denormals(unsigned long long state);

/// Names the calling thread for the system (`top -H`, `perf`, debuggers): at most 15 bytes on Linux, where a longer
/// name is refused. Returns 0, or the error the system gave.
int emovere_name_this_thread(const char *name);

/// Makes glibc serve allocations of `threshold` bytes or more from mmap, returned to the system when freed, and
/// stops it from raising that threshold after large frees (by default it rises up to 32 MB, and each thread's arena
/// then keeps the large buffers it served). Returns 1 on success, 0 where the C library has no such setting.
int emovere_map_large_allocations(size_t threshold);

/// The instruction sets the kernels are compiled for. Each kernel below exists once per set, compiled from one
/// source (`kernels.h`) at the set's vector width; the caller picks one that the CPU runs.
typedef enum {
    /// Whatever the compiler's baseline target has: 128-bit vectors (SSE2 on x86-64, NEON on arm64).
    EMOVERE_ISA_PORTABLE = 0,
    /// x86-64 AVX2 and FMA: 256-bit vectors, fused multiply-add.
    EMOVERE_ISA_AVX2 = 1,
    /// x86-64 AVX-512F: 512-bit vectors.
    EMOVERE_ISA_AVX512 = 2,
} emovere_isa;

/// The widest instruction set this CPU and operating system support (cpuid and xgetbv on x86-64; portable elsewhere).
emovere_isa emovere_detect_isa(void);

/// Floats per vector of `isa`: 4, 8 or 16.
long emovere_isa_lanes(emovere_isa isa);

/// Vectors of filters in an `emovere_conv_wide` block: 4 for AVX-512 (32 registers), 2 otherwise.
long emovere_isa_wide_vectors(emovere_isa isa);

/// Direct convolution, 6 output pixels x `wide_vectors * lanes` filters. Pixel p's window has `kernel_height` runs of
/// `run_length` inputs starting `row_step` apart at `corners[p]`; weight row t of kernel row ky is at
/// `weights + (ky * run_length + t) * weight_stride`. Starts from `bias[0 ..< wide_vectors * lanes]` (zero when NULL),
/// clamps below at `floor`, stores the first `valid` pixels at `out + p * out_stride`.
void emovere_conv_wide(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                       long run_length, const float *weights, long weight_stride, const float *bias, float floor,
                       long valid, float *out, long out_stride);

/// Direct convolution, 12 output pixels x `lanes` filters of which the first `filters` (at most `lanes`) are stored;
/// weight rows as in `emovere_conv_wide` but `lanes` wide and readable in full; `bias` has `filters` values or is NULL.
void emovere_conv_narrow(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                         long run_length, const float *weights, long weight_stride, const float *bias, float floor,
                         long valid, long filters, float *out, long out_stride);

/// Direct convolution, 12 output pixels x `filters` filters (at most `lanes / 2`), two taps per multiply-add: the
/// windows as in `emovere_conv_wide`, `run_length` even; weight pair q of kernel row ky (rows 2q and 2q+1 of the run)
/// is `lanes` floats at `weights + (ky * run_length / 2 + q) * lanes`, filter f's two weights in lanes 2f and 2f+1
/// (zeros past `filters`). `bias` has `filters` values or is NULL.
void emovere_conv_paired(emovere_isa isa, const float *const *corners, long row_step, long kernel_height,
                         long run_length, const float *weights, const float *bias, float floor, long valid,
                         long filters, float *out, long out_stride);

/// The most taps (`kernel_height * kernel_width`) `emovere_conv_single_channel` takes: 7x7.
#define EMOVERE_SINGLE_CHANNEL_TAPS 49

/// `rows` output rows of `count` pixels of a convolution of one-channel input at stride 1 (a network's first layer),
/// windows in frame: row r's pixel x has the window of `kernel_width` values at `input + (r + ky) * input_width + x`
/// for each kernel row ky (at most `EMOVERE_SINGLE_CHANNEL_TAPS` taps); weight row t (tap t = ky * kernel_width + kx)
/// at `weights + t * weight_stride`, its first `filters` read. Starts from `bias[0 ..< filters]` (zero when NULL),
/// clamps below at `floor`, stores row r's pixel x at `out + (r * count + x) * out_stride`. Bit for bit the sums of
/// `emovere_conv_wide` and `emovere_conv_narrow`.
void emovere_conv_single_channel(emovere_isa isa, const float *input, long input_width, long rows, long kernel_height,
                                 long kernel_width, long count, const float *weights, long weight_stride, long filters,
                                 const float *bias, float floor, float *out, long out_stride);

/// 1 when the CPU and operating system run AVX512_BF16 (with AVX-512F, BW and VL): the bfloat16 kernels below.
int emovere_detect_bfloat16(void);

/// `count` floats rounded to bfloat16 (to nearest, ties to even; denormals become zero), the top 16 bits of each.
/// Needs `emovere_detect_bfloat16`.
void emovere_to_bfloat16(const float *from, uint16_t *to, long count);

/// `emovere_conv_wide` for AVX-512 with bfloat16 multiplications and single-precision sums: 6 output pixels x 64
/// filters. The windows are read from `halves`, the bfloat16 copy of the floats at `origin` (`corners` point into
/// the floats), as pairs of neighbouring values, so `run_length` must be even. Weight pair q of kernel row ky (rows
/// 2q and 2q+1 of the run) is 64 filters x 2 values at `weights + (ky * run_length + 2 * q) * 64`, the pair of each
/// filter side by side. Needs `emovere_detect_bfloat16`.
void emovere_conv_wide_bf16(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                            long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                            float floor, long valid, float *out, long out_stride);

/// `emovere_conv_narrow` with bfloat16 multiplications: 12 output pixels x 16 filters (weight pairs as in
/// `emovere_conv_wide_bf16`, 16 filters wide), the first `filters` stored; `bias` has `filters` values or is NULL.
void emovere_conv_narrow_bf16(const float *const *corners, const float *origin, const uint16_t *halves,
                              long row_step, long kernel_height, long run_length, const uint16_t *weights,
                              const float *bias, float floor, long valid, long filters, float *out, long out_stride);

/// 1 when the CPU and operating system run AMX tiles with bfloat16 products (AMX-TILE and AMX-BF16, with
/// `emovere_detect_bfloat16`): the first call asks Linux for the tile state (arch_prctl), which a process must do
/// before any thread uses tiles. 0 elsewhere.
int emovere_detect_matrix_tiles(void);

/// `emovere_conv_wide_bf16` on AMX tiles for up to 16 output pixels (`valid`, at most 16) x 64 filters: the same
/// products, summed 32 at a time in another order. Each thread's tiles are configured on its first call (and when
/// `valid` changes). Needs `emovere_detect_matrix_tiles`.
void emovere_conv_wide_amx(const float *const *corners, const float *origin, const uint16_t *halves, long row_step,
                           long kernel_height, long run_length, const uint16_t *weights, const float *bias,
                           float floor, long valid, float *out, long out_stride);

/// The columns of a `rows` x `columns` float matrix (rows `stride` floats apart) rounded to bfloat16 as rows: column
/// c's value of row r is `to[c * depth + r]`, zero from row `rows` to `depth` and from column `columns` to `padded`
/// (`depth` and `padded` multiples of 16). The left operand of `emovere_outer_amx`. Needs
/// `emovere_detect_matrix_tiles`.
void emovere_pack_bfloat16_columns(const float *from, long rows, long columns, long stride, uint16_t *to, long depth,
                                   long padded);

/// `sums[i, j] += Σ_d left[i, d] * right[d, j]` on AMX tiles: `left` is `left_rows` rows of `depth` bfloat16 values
/// (`emovere_pack_bfloat16_columns`), `right` `depth / 2` row pairs of `right_columns` columns
/// (`emovere_pack_bfloat16_pairs`), `sums` `left_rows` x `right_columns` floats; `left_rows` and `right_columns`
/// multiples of 16, `depth` of 32. Each sum adds its 32 products at a time in the tile's order. Needs
/// `emovere_detect_matrix_tiles`.
void emovere_outer_amx(const uint16_t *left, long left_rows, const uint16_t *right, long right_columns, long depth,
                       float *sums);

/// `to[c * to_stride + r] += from[r * stride + c]` for the `rows` x `columns` floats at `from`: the transpose added.
/// Needs `emovere_detect_matrix_tiles` (AVX-512 on the CPUs that have tiles).
void emovere_add_transposed(const float *from, long rows, long columns, long stride, float *to, long to_stride);

/// Rows 2p and 2p+1 of a `rows` x `columns` float matrix (rows `stride` floats apart; the second row zero past
/// `rows`) rounded to bfloat16 and interleaved value by value: pair p's column c is `to[2 * (p * padded + c)]` and
/// the next value. Columns from `columns` to `padded` (a multiple of 16) are zero. The layout the bfloat16 outer
/// products read. Needs `emovere_detect_bfloat16`.
void emovere_pack_bfloat16_pairs(const float *from, long rows, long columns, long stride, uint16_t *to, long padded);

/// `emovere_outer_wide` with bfloat16 products over row pairs (`emovere_pack_bfloat16_pairs` layout): adds the
/// products of 6 columns of `a` (pairs `a_columns` values wide; all 6 are read, the first `valid` stored) and 64
/// columns of `b` (pairs `b_columns` wide) over `pairs` row pairs into `out` (rows `out_stride` apart).
void emovere_outer_wide_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                             long pairs, float *out, long out_stride);

/// As `emovere_outer_wide_bf16` for 12 columns of `a` and 16 columns of `b` (all read), the first `filters` stored.
void emovere_outer_narrow_bf16(const uint16_t *a, long a_columns, long valid, const uint16_t *b, long b_columns,
                               long filters, long pairs, float *out, long out_stride);

/// im2col rows of `count` output pixels whose windows lie in frame: pixel p's window is `kernel_height` runs of
/// `run_length` floats, `row_step` apart, starting at `first + p * pixel_step`; they are copied one after another to
/// `out + p * kernel_height * run_length`.
void emovere_im2col_row(emovere_isa isa, const float *first, long row_step, long kernel_height, long run_length,
                        long pixel_step, long count, float *out);

/// The adjoint of `emovere_im2col_row`: adds each pixel's runs from `columns` back at `first`, pixel after pixel.
void emovere_col2im_row(emovere_isa isa, const float *columns, long row_step, long kernel_height, long run_length,
                        long pixel_step, long count, float *first);

/// Weight gradient block, `out[j, f] += Σ_r a[r, j] * b[r, f]` for `rows` rows: 6 columns of `a` (row stride
/// `a_stride`; the first `valid` stored, the others repeat the last) x `wide_vectors * lanes` columns of `b` (row
/// stride `b_stride`), added to `out + j * out_stride`. Rows are summed in order.
void emovere_outer_wide(emovere_isa isa, const float *a, long a_stride, long valid, const float *b, long b_stride,
                        long rows, float *out, long out_stride);

/// As `emovere_outer_wide` for 12 columns of `a` and `filters` (at most `lanes`) columns of `b`.
void emovere_outer_narrow(emovere_isa isa, const float *a, long a_stride, long valid, const float *b, long b_stride,
                          long filters, long rows, float *out, long out_stride);

/// Depthwise 3x3 convolution of `count` neighbouring output pixels of one row whose windows are all in frame
/// (stride 1): `top`, `middle` and `bottom` point at the first window's three input rows (`channels` floats per
/// pixel), `kernel` is `[3, 3, channels]`, `out` receives `count * channels` floats.
void emovere_depthwise3x3_row(emovere_isa isa, const float *top, const float *middle, const float *bottom,
                              const float *kernel, long channels, float *out, long count);

/// Depthwise 3x3 kernel gradient of `count` neighbouring output pixels of one row whose windows are all in frame
/// (stride 1): `dy` is the first pixel's output gradient, `top`, `middle` and `bottom` point at its window's three
/// input rows (`channels` floats per pixel); adds `Σ_p input[p + tap] * dy[p]` to `dw` (`[3, 3, channels]`).
void emovere_depthwise3x3_kernel_gradient_row(emovere_isa isa, const float *dy, const float *top, const float *middle,
                                              const float *bottom, long channels, long count, float *dw);

/// Depthwise 3x3 convolution of one output pixel whose window crosses the border: `taps[t]` (t = 3 * ky + kx) points
/// at the `channels` floats under tap t, a row of zeros outside the frame; `kernel` is `[3, 3, channels]`. Each product
/// is rounded before its sum (no fused multiply-add), taps in order.
void emovere_depthwise3x3_pixel(emovere_isa isa, const float *const *taps, const float *kernel, long channels,
                                float *out);

/// A border pixel's share of the depthwise 3x3 kernel gradient: adds `taps[t] * dy` (`channels` floats each) to tap
/// t of `dw` (`[3, 3, channels]`) for each tap in frame (`taps[t]` not NULL), products rounded before each sum.
void emovere_depthwise3x3_kernel_gradient_pixel(emovere_isa isa, const float *const *taps, const float *dy,
                                                long channels, float *dw);

/// Max pooling of one output row of `count` pixels: pixel ox's window covers the input columns from
/// `ox * stride - pad_left`, `pool_width` of them cut to `0 ..< input_width`, in `rows` input rows from `first_row` (the
/// first row in frame, at its column 0; rows `row_step` floats apart, pixels `channels` apart); pixel ox's `channels`
/// maxima go to `out + ox * channels`, the first of equal values in row-major order. With `argmax` (not NULL), each
/// maximum's offset in its image (`first_row` is at `row_index`) goes to the same place there, as a float.
void emovere_max_pool_row(emovere_isa isa, const float *first_row, long row_index, long row_step, long rows, long count,
                          long stride, long pad_left, long pool_width, long input_width, long channels, float *out,
                          float *argmax);

/// Batch-norm moments over `rows` rows of `channels` floats at `x`: adds each channel's sum to `first[c]` and its sum
/// of squares to `second[c]`.
void emovere_norm_moments(emovere_isa isa, const float *x, long rows, long channels, float *first, float *second);
/// Batch-norm backward sums: with `g = dy` (or, when `scale` is not NULL, the gradient through a fused ReLU:
/// `max(dy, floor)` where the forward output `(x - mean[c]) * scale[c] + shift[c]` was positive, 0 elsewhere; that
/// sign is recomputed as `emovere_norm_apply` computed it), adds `g` to `first[c]` and `g * (x - mean[c]) *
/// invstd[c]` to `second[c]`. `x` and `dy` are `[rows, channels]`.
void emovere_norm_backward_sums(emovere_isa isa, const float *x, const float *dy, const float *mean,
                                const float *invstd, const float *scale, const float *shift, float floor, long rows,
                                long channels, float *first, float *second);
/// Batch-norm forward: `y = max((x - mean[c]) * scale[c] + shift[c], floor)` over `[rows, channels]`.
void emovere_norm_apply(emovere_isa isa, const float *x, const float *mean, const float *scale, const float *shift,
                        float floor, long rows, long channels, float *y);
/// Batch-norm input gradient: `dx = a[c] * (g - b[c] - (x - mean[c]) * invstd[c] * d[c])`, `g` as in
/// `emovere_norm_backward_sums`.
void emovere_norm_backward_apply(emovere_isa isa, const float *x, const float *dy, const float *mean,
                                 const float *invstd, const float *scale, const float *shift, const float *a,
                                 const float *b, const float *d, float floor, long rows, long channels, float *dx);

/// Elementwise sum: `out = a + b` over `count` floats (`out = a` where `b` is NULL), then, where `relu` is not 0, the
/// ReLU: negative values become 0, a NaN stays NaN. `out` may be `a` or `b`.
void emovere_add(emovere_isa isa, const float *a, const float *b, int relu, long count, float *out);
/// ReLU gradient from the ReLU's output: `dx = y > 0 ? dy : 0` over `count` floats; with `guided` not 0 (guided
/// backpropagation) only positive gradients pass: `dx = y > 0 && dy > 0 ? dy : 0`. `dx` may be `dy`.
void emovere_relu_backward(emovere_isa isa, const float *y, const float *dy, int guided, long count, float *dx);

/// The arithmetic peak's probe: twelve vectors of `isa`, lane values starting at 0, 1, ..., 11, each updated
/// `iterations` times as `a = a * multiplier + addend` (fused where the set has fused multiply-add); returns the sum of
/// every lane. `12 * lanes * iterations` multiply-adds and no memory traffic.
float emovere_multiply_add_chains(emovere_isa isa, long iterations, float multiplier, float addend);
#endif
