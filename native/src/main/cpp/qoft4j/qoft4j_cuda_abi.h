// C ABI of libqoft4j_cuda.so (built by nvcc from native/src/main/cuda, loaded with dlopen by
// cuda_bridge.cpp). Raw device pointers; `stream` is a cudaStream_t (NULL = the legacy default stream,
// which is libtorch's current stream unless the caller installed another one). Every function makes
// `device` current first and returns 0 or a cudaError_t (message in qoft4j_cuda_error()).
#pragma once
#include <stdint.h>

#define QOFT4J_CUDA_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const uint8_t* packed;         // [ceil(n/2)] codes, even element in the high nibble
    const void* absmax;            // float [nblocks], or uint8 codes [nblocks] when absmax_is_codes
    int absmax_is_codes;
    const float* quant_map;        // [16]
    const float* nested_absmax;    // [ceil(nblocks / nested_blocksize)]
    const float* nested_map;       // [256]
    float offset;
    int64_t nested_blocksize;
    int64_t n, blocksize;
} qoft4j_bnb_weight;

int qoft4j_cuda_abi_version(void);
const char* qoft4j_cuda_error(void);
int qoft4j_cuda_device_count(int* count);
int qoft4j_cuda_dequant_bnb(int device, const qoft4j_bnb_weight* w, void* out, int out_dtype, void* stream);
int qoft4j_cuda_dequant_int4(int device, const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales,
                             int64_t rows, int64_t cols, int64_t group, void* out, int out_dtype, void* stream);
int qoft4j_cuda_gemv_bnb(int device, const qoft4j_bnb_weight* w, int64_t rows, int64_t cols, const void* x, void* y,
                         int x_dtype, void* stream);
int qoft4j_cuda_synchronize(int device);

#ifdef __cplusplus
}
#endif
