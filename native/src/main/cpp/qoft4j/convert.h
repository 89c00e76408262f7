// fp32 -> bf16 / fp16 conversions with the exact semantics of libtorch on x86-64 CPUs, shared by
// the C++ scalar paths and the CUDA kernels so every backend writes identical bits.
//   bf16: round to nearest even on the bit pattern (c10's formula); NaN -> 0xFFFF, which is what
//         libtorch's vectorized float->bfloat16 conversion (AVX2/AVX-512) writes for every NaN.
//   fp16: IEEE round to nearest even, as F16C's vcvtps2ph does (the instruction libtorch uses):
//         overflow -> inf, subnormal results kept, NaN quieted keeping the top 10 payload bits.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define QOFT4J_HD __host__ __device__ __forceinline__
#else
#define QOFT4J_HD static inline
#endif

QOFT4J_HD uint16_t qoft4j_bf16_bits(uint32_t x) {
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFFu;
    return (uint16_t) ((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

QOFT4J_HD uint16_t qoft4j_f16_bits(uint32_t x) {
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return (uint16_t) (sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
    if (ax >= 0x477FF000u) return (uint16_t) (sign | 0x7C00u);          // >= 65520 rounds to inf
    if (ax >= 0x38800000u) {                                             // normal fp16 (>= 2^-14)
        uint32_t r = ax - 0x38000000u;                                   // rebias exponent 127 -> 15
        return (uint16_t) (sign | ((r + 0xFFFu + ((r >> 13) & 1u)) >> 13));
    }
    uint32_t e = ax >> 23;                                               // subnormal fp16 result
    uint32_t shift = 126u - e;                                           // value / 2^-24 = m * 2^(e-126)
    if (e == 0 || shift > 24u) return (uint16_t) sign;
    uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t) (sign | q);
}
