// C API of the qoft4j native kernels (the JavaCPP class org.qoft4j.nativekernels.NativeApi binds it).
// Addresses are passed as int64_t (Java longs taken from Tensor.data_ptr()); the Java side has already
// validated every shape, dtype, device and contiguity. Functions return 0, or -1 with a message in
// qoft4j_last_error(). Output dtype codes: 0 = float32, 1 = bfloat16, 2 = float16.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char* qoft4j_last_error(void);
/** Instruction set in use: 0 scalar, 1 AVX2 (+FMA, F16C), 2 AVX-512 (F, BW, VL, DQ). */
int qoft4j_isa(void);
/** Caps the instruction set at level (tests use it to exercise every path); returns the level in use. */
int qoft4j_set_isa(int level);
int qoft4j_threads(void);
void qoft4j_set_threads(int n);

/** memcpy split over the kernels' thread pool: the memory-bandwidth baseline of the benchmarks. */
int qoft4j_copy(int64_t dst, int64_t src, int64_t bytes);
/** bitsandbytes NF4/FP4 (absmax_is_codes: double-quantized, absmax holds U8 codes into nested_map). */
int qoft4j_dequant_bnb(int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map, int64_t nested_absmax,
                       int64_t nested_map, float offset, int64_t nested_blocksize, int64_t n, int64_t blocksize,
                       int64_t out, int out_dtype);
/** GPTQ INT4 (see org.qoft4j.quant.Int4Weight) into out [rows, cols]. */
int qoft4j_dequant_int4(int64_t qweight, int64_t qzeros, int64_t scales, int64_t rows, int64_t cols, int64_t group,
                        int64_t out, int out_dtype);
/** fp32 y[:, blk i] = x[:, blk i] R_i (transpose = 0) or R_i^T (transpose = 1); x, y [tokens, r*b], R [r, b, b]. */
int qoft4j_rotate(int64_t x, int64_t rot, int64_t y, int64_t tokens, int64_t r, int64_t b, int transpose);
/** fp32 gR_i = x[:, blk i]^T gy[:, blk i]; gR [r, b, b]. */
int qoft4j_rotate_grad(int64_t x, int64_t gy, int64_t grad_rot, int64_t tokens, int64_t r, int64_t b);

/** Loads libqoft4j_cuda.so from path (dlopen) and checks its ABI version; 0 when usable. */
int qoft4j_cu_open(const char* path);
int qoft4j_cu_device_count(void);
int qoft4j_cu_dequant_bnb(int device, int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map,
                          int64_t nested_absmax, int64_t nested_map, float offset, int64_t nested_blocksize, int64_t n,
                          int64_t blocksize, int64_t out, int out_dtype, int64_t stream);
int qoft4j_cu_dequant_int4(int device, int64_t qweight, int64_t qzeros, int64_t scales, int64_t rows, int64_t cols,
                           int64_t group, int64_t out, int out_dtype, int64_t stream);
/** y [rows] = W x for an NF4/FP4 weight [rows, cols] and a bf16 (x_dtype 1) or fp16 (2) vector x [cols]. */
int qoft4j_cu_gemv_bnb(int device, int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map,
                       int64_t nested_absmax, int64_t nested_map, float offset, int64_t nested_blocksize, int64_t rows,
                       int64_t cols, int64_t blocksize, int64_t x, int64_t y, int x_dtype, int64_t stream);
int qoft4j_cu_synchronize(int device);

#ifdef __cplusplus
}
#endif
