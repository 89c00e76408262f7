// CUDA kernels of qoft4j: NF4/FP4 (optionally double-quantized) and GPTQ INT4 dequantization into
// fp32 / bf16 / fp16, bit-exact with the CPU reference (float32 ops with explicit _rn intrinsics, so no
// FMA contraction; conversions from convert.h), and a fused NF4/FP4 dequantize + GEMV for batch-1
// generation. C ABI in qoft4j_cuda_abi.h; built into libqoft4j_cuda.so by native/build-cuda.sh.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>
#include "convert.h"
#include "qoft4j_cuda_abi.h"

namespace {

thread_local char g_error[512];

int status(cudaError_t e) {
    if (e != cudaSuccess) {
        strncpy(g_error, cudaGetErrorString(e), sizeof(g_error) - 1);
        g_error[sizeof(g_error) - 1] = 0;
    }
    return (int) e;
}

int invalid(const char* what) {
    strncpy(g_error, what, sizeof(g_error) - 1);
    g_error[sizeof(g_error) - 1] = 0;
    return (int) cudaErrorInvalidValue;
}

enum { OUT_F32 = 0, OUT_BF16 = 1, OUT_F16 = 2 };

template <int DT>
__device__ __forceinline__ uint16_t to16(float v) {
    uint32_t u = __float_as_uint(v);
    return DT == OUT_BF16 ? qoft4j_bf16_bits(u) : qoft4j_f16_bits(u);
}

__device__ __forceinline__ float block_scale(const qoft4j_bnb_weight& w, int64_t b) {
    if (!w.absmax_is_codes) return ((const float*) w.absmax)[b];
    uint8_t code = ((const uint8_t*) w.absmax)[b];
    return __fadd_rn(__fmul_rn(w.nested_map[code], w.nested_absmax[b / w.nested_blocksize]), w.offset);
}

__device__ __forceinline__ uint8_t code_at(const uint8_t* packed, int64_t i) {
    uint8_t byte = packed[i >> 1];
    return (i & 1) ? (byte & 15) : (byte >> 4);
}

// One thread per 32 elements (16 packed bytes, always inside one absmax block since blocksize % 32 == 0).
template <int DT>
__global__ void dequant_bnb_kernel(qoft4j_bnb_weight w, void* out, int64_t nchunks, bool aligned) {
    __shared__ float qmap[16];
    if (threadIdx.x < 16) qmap[threadIdx.x] = w.quant_map[threadIdx.x];
    __syncthreads();
    for (int64_t c = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; c < nchunks; c += (int64_t) gridDim.x * blockDim.x) {
        int64_t e0 = c * 32;
        float s = block_scale(w, e0 / w.blocksize);
        if (aligned && e0 + 32 <= w.n) {
            uint4 p = *(const uint4*) (w.packed + e0 / 2);
            uint32_t words[4] = {p.x, p.y, p.z, p.w};
            if (DT == OUT_F32) {
                float4* o = (float4*) ((float*) out + e0);
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    uint32_t v = words[q];  // bytes 4q..4q+3, little-endian
                    float4 a, b;
                    a.x = __fmul_rn(qmap[(v >> 4) & 15], s);  a.y = __fmul_rn(qmap[v & 15], s);
                    a.z = __fmul_rn(qmap[(v >> 12) & 15], s); a.w = __fmul_rn(qmap[(v >> 8) & 15], s);
                    b.x = __fmul_rn(qmap[(v >> 20) & 15], s); b.y = __fmul_rn(qmap[(v >> 16) & 15], s);
                    b.z = __fmul_rn(qmap[(v >> 28) & 15], s); b.w = __fmul_rn(qmap[(v >> 24) & 15], s);
                    o[2 * q] = a;
                    o[2 * q + 1] = b;
                }
            } else {
                uint4* o = (uint4*) ((uint16_t*) out + e0);
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    uint32_t v = words[q];
                    uint32_t r[4];
#pragma unroll
                    for (int k = 0; k < 4; k++) {  // byte k: high nibble = element 2k, low = 2k+1
                        uint32_t byte = (v >> (8 * k)) & 0xFF;
                        uint32_t even = to16<DT>(__fmul_rn(qmap[byte >> 4], s));
                        uint32_t odd = to16<DT>(__fmul_rn(qmap[byte & 15], s));
                        r[k] = even | (odd << 16);
                    }
                    o[q] = make_uint4(r[0], r[1], r[2], r[3]);
                }
            }
        } else {
            int64_t e1 = e0 + 32 < w.n ? e0 + 32 : w.n;
            for (int64_t i = e0; i < e1; i++) {
                float v = __fmul_rn(qmap[code_at(w.packed, i)], s);
                if (DT == OUT_F32) ((float*) out)[i] = v;
                else ((uint16_t*) out)[i] = to16<DT>(v);
            }
        }
    }
}

// A 32 (k = 8-column words) x 32 (rows) tile of qweight goes through shared memory so that both the
// qweight reads (along rows) and the output writes (along columns) are coalesced.
template <int DT>
__global__ void dequant_int4_kernel(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, int64_t rows,
                                    int64_t cols, int64_t group, void* out) {
    __shared__ uint32_t tile[32][33];
    int64_t kwords = cols / 8;
    int64_t k0 = (int64_t) blockIdx.x * 32, o0 = (int64_t) blockIdx.y * 32;
    int tx = threadIdx.x, ty = threadIdx.y;  // 32 x 8
    for (int kk = ty; kk < 32; kk += 8) {
        int64_t k = k0 + kk, o = o0 + tx;
        tile[kk][tx] = (k < kwords && o < rows) ? (uint32_t) qweight[k * rows + o] : 0u;
    }
    __syncthreads();
    for (int oo = ty; oo < 32; oo += 8) {
        int64_t o = o0 + oo, k = k0 + tx;
        if (o >= rows || k >= kwords) continue;
        uint32_t word = tile[tx][oo];
        int64_t t = (8 * k) / group;
        uint32_t zword = (uint32_t) qzeros[t * (rows / 8) + o / 8];
        float z = (float) (((zword >> (4 * (o % 8))) & 15u) + 1u);
        float s = __half2float(__ushort_as_half(scales[t * rows + o]));
        float v[8];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = __fmul_rn(__fsub_rn((float) ((word >> (4 * j)) & 15u), z), s);
        if (DT == OUT_F32) {
            float4* dst = (float4*) ((float*) out + o * cols + 8 * k);
            dst[0] = make_float4(v[0], v[1], v[2], v[3]);
            dst[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            uint32_t r[4];
#pragma unroll
            for (int j = 0; j < 4; j++) r[j] = (uint32_t) to16<DT>(v[2 * j]) | ((uint32_t) to16<DT>(v[2 * j + 1]) << 16);
            *(uint4*) ((uint16_t*) out + o * cols + 8 * k) = make_uint4(r[0], r[1], r[2], r[3]);
        }
    }
}

// One warp per output row; each lane takes 32-element chunks (16 packed bytes); fp32 accumulation.
template <int XT>
__global__ void gemv_bnb_kernel(qoft4j_bnb_weight w, int64_t rows, int64_t cols, const uint16_t* x, uint16_t* y) {
    __shared__ float qmap[16];
    if (threadIdx.x < 16) qmap[threadIdx.x] = w.quant_map[threadIdx.x];
    __syncthreads();
    int lane = threadIdx.x & 31;
    int64_t o = (int64_t) blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (o >= rows) return;
    float acc = 0.0f;
    int64_t chunks = cols / 32;
    const uint4* prow = (const uint4*) (w.packed + o * cols / 2);
    for (int64_t c = lane; c < chunks; c += 32) {
        uint4 p = prow[c];
        float s = block_scale(w, (o * cols + c * 32) / w.blocksize);
        uint32_t words[4] = {p.x, p.y, p.z, p.w};
        const uint4* xv = (const uint4*) (x + c * 32);
#pragma unroll
        for (int q = 0; q < 4; q++) {
            uint4 xw = xv[q];  // 8 x values
            uint32_t xs[4] = {xw.x, xw.y, xw.z, xw.w};
            uint32_t v = words[q];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                uint32_t byte = (v >> (8 * k)) & 0xFF;
                float x0, x1;
                if (XT == OUT_BF16) {
                    x0 = __uint_as_float(xs[k] << 16);
                    x1 = __uint_as_float(xs[k] & 0xFFFF0000u);
                } else {
                    x0 = __half2float(__ushort_as_half((uint16_t) (xs[k] & 0xFFFF)));
                    x1 = __half2float(__ushort_as_half((uint16_t) (xs[k] >> 16)));
                }
                acc = fmaf(__fmul_rn(qmap[byte >> 4], s), x0, acc);
                acc = fmaf(__fmul_rn(qmap[byte & 15], s), x1, acc);
            }
        }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xFFFFFFFFu, acc, off);
    if (lane == 0) y[o] = to16<XT>(acc);
}

int64_t grid_for(int64_t work, int threads) {
    int64_t blocks = (work + threads - 1) / threads;
    return blocks < 1 ? 1 : (blocks > 2147483647 ? 2147483647 : blocks);
}

}  // namespace

extern "C" {

int qoft4j_cuda_abi_version(void) {
    return QOFT4J_CUDA_ABI_VERSION;
}

const char* qoft4j_cuda_error(void) {
    return g_error;
}

int qoft4j_cuda_device_count(int* count) {
    return status(cudaGetDeviceCount(count));
}

int qoft4j_cuda_dequant_bnb(int device, const qoft4j_bnb_weight* w, void* out, int out_dtype, void* stream) {
    if (w->blocksize < 32 || w->blocksize % 32 != 0 || w->n < 0) return invalid("blocksize must be a multiple of 32");
    if (int e = status(cudaSetDevice(device))) return e;
    if (w->n == 0) return 0;
    int64_t nchunks = (w->n + 31) / 32;
    bool aligned = ((uintptr_t) w->packed % 16 == 0) && ((uintptr_t) out % 16 == 0);
    cudaStream_t s = (cudaStream_t) stream;
    int64_t grid = grid_for(nchunks, 256);
    switch (out_dtype) {
        case OUT_F32: dequant_bnb_kernel<OUT_F32><<<grid, 256, 0, s>>>(*w, out, nchunks, aligned); break;
        case OUT_BF16: dequant_bnb_kernel<OUT_BF16><<<grid, 256, 0, s>>>(*w, out, nchunks, aligned); break;
        case OUT_F16: dequant_bnb_kernel<OUT_F16><<<grid, 256, 0, s>>>(*w, out, nchunks, aligned); break;
        default: return invalid("output dtype must be 0 (fp32), 1 (bf16) or 2 (fp16)");
    }
    return status(cudaGetLastError());
}

int qoft4j_cuda_dequant_int4(int device, const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales, int64_t rows,
                             int64_t cols, int64_t group, void* out, int out_dtype, void* stream) {
    if (rows % 8 || cols % 8 || group < 8 || group % 8 || cols % group) return invalid("invalid INT4 shape");
    if ((uintptr_t) out % 16) return invalid("INT4 output must be 16-byte aligned");
    if (int e = status(cudaSetDevice(device))) return e;
    if (rows == 0 || cols == 0) return 0;
    dim3 block(32, 8), grid((unsigned) ((cols / 8 + 31) / 32), (unsigned) ((rows + 31) / 32));
    if (grid.y > 65535) return invalid("INT4 weight has too many rows");
    cudaStream_t s = (cudaStream_t) stream;
    switch (out_dtype) {
        case OUT_F32: dequant_int4_kernel<OUT_F32><<<grid, block, 0, s>>>(qweight, qzeros, scales, rows, cols, group, out); break;
        case OUT_BF16: dequant_int4_kernel<OUT_BF16><<<grid, block, 0, s>>>(qweight, qzeros, scales, rows, cols, group, out); break;
        case OUT_F16: dequant_int4_kernel<OUT_F16><<<grid, block, 0, s>>>(qweight, qzeros, scales, rows, cols, group, out); break;
        default: return invalid("output dtype must be 0 (fp32), 1 (bf16) or 2 (fp16)");
    }
    return status(cudaGetLastError());
}

int qoft4j_cuda_gemv_bnb(int device, const qoft4j_bnb_weight* w, int64_t rows, int64_t cols, const void* x, void* y,
                         int x_dtype, void* stream) {
    if (cols % 32 || w->blocksize < 32 || w->blocksize % 32) return invalid("GEMV needs cols and blocksize multiples of 32");
    if ((uintptr_t) w->packed % 16 || (uintptr_t) x % 16) return invalid("GEMV needs 16-byte aligned weight and vector");
    if (int e = status(cudaSetDevice(device))) return e;
    if (rows == 0) return 0;
    const int warps = 4;
    int64_t grid = grid_for(rows, warps);
    cudaStream_t s = (cudaStream_t) stream;
    if (x_dtype == OUT_BF16) gemv_bnb_kernel<OUT_BF16><<<grid, 32 * warps, 0, s>>>(*w, rows, cols, (const uint16_t*) x, (uint16_t*) y);
    else if (x_dtype == OUT_F16) gemv_bnb_kernel<OUT_F16><<<grid, 32 * warps, 0, s>>>(*w, rows, cols, (const uint16_t*) x, (uint16_t*) y);
    else return invalid("GEMV vector dtype must be 1 (bf16) or 2 (fp16)");
    return status(cudaGetLastError());
}

int qoft4j_cuda_synchronize(int device) {
    if (int e = status(cudaSetDevice(device))) return e;
    return status(cudaDeviceSynchronize());
}

}  // extern "C"
