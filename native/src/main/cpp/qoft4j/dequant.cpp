// CPU dequantization of bitsandbytes NF4/FP4 (optionally double-quantized) and GPTQ INT4 weights into
// fp32 / bf16 / fp16, bit-exact with org.qoft4j.quant.kernel.ReferenceDequantizer: float32 arithmetic
// in the spec's order, one rounding per operation (built with -ffp-contract=off, and the SIMD paths
// use separate multiply/add instructions), then one conversion (convert.h).
//
// Three code paths in this one translation unit: scalar, AVX2 (+FMA, F16C) and AVX-512 (F, BW, VL, DQ),
// the SIMD ones compiled under `#pragma GCC target` so the library itself needs only x86-64; the path is
// chosen at run time from CPUID (qoft4j_isa / qoft4j_set_isa).
//
// NF4/FP4 trick: every element of block b is quant_map[code] * scale(b), so each block first builds its
// 16-entry table of products (already converted to the output dtype) and the element loop is a pure
// table lookup — the same products the reference computes, hence the same bits.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <algorithm>
#include "common.h"
#include "convert.h"
#include "qoft4j_native.h"

namespace qoft4j {

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t) (h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, u;
    if (e == 0x1F) u = sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u);  // inf; NaN quieted as vcvtph2ps does
    else if (e != 0) u = sign | ((e + 112u) << 23) | (m << 13);
    else if (m == 0) u = sign;
    else {                                                                      // subnormal: normalize
        int shift = 0;
        while (!(m & 0x400u)) { m <<= 1; shift++; }
        u = sign | ((uint32_t) (113 - shift) << 23) | ((m & 0x3FFu) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

struct BnbArgs {
    const uint8_t* packed;       // [ceil(n/2)]
    const float* absmax;         // [nblocks] or null with double quantization
    const uint8_t* absmax_codes; // [nblocks] with double quantization
    const float* quant_map;      // [16]
    const float* nested_absmax;  // [ceil(nblocks / nested_blocksize)]
    const float* nested_map;     // [256]
    float offset;
    int64_t nested_blocksize, n, blocksize;
    void* out;
    int dtype;
};

static inline float block_scale(const BnbArgs& a, int64_t b) {
    if (a.absmax_codes == nullptr) return a.absmax[b];
    float s = a.nested_map[a.absmax_codes[b]] * a.nested_absmax[b / a.nested_blocksize];
    return s + a.offset;
}

// Elements [e0, e1) from a 16-entry table already in the output type.
template <typename T>
static inline void lookup_tail(const uint8_t* packed, int64_t e0, int64_t e1, const T* tab, T* out) {
    for (int64_t i = e0; i < e1; i++) {
        uint8_t byte = packed[i >> 1];
        out[i] = tab[(i & 1) ? (byte & 15) : (byte >> 4)];
    }
}

static inline void convert_table(const float* tab, int dtype, uint16_t* tab16) {
    for (int c = 0; c < 16; c++)
        tab16[c] = dtype == OUT_BF16 ? qoft4j_bf16_bits(bits_of(tab[c])) : qoft4j_f16_bits(bits_of(tab[c]));
}

static inline uint16_t convert_one(float v, int dtype) {
    return dtype == OUT_BF16 ? qoft4j_bf16_bits(bits_of(v)) : qoft4j_f16_bits(bits_of(v));
}

struct Int4Args {
    const int32_t* qweight;  // [cols/8, rows]
    const int32_t* qzeros;   // [cols/g, rows/8]
    const uint16_t* scales;  // [cols/g, rows] fp16
    int64_t rows, cols, group;
    void* out;               // [rows, cols]
    int dtype;
};

static inline float int4_zero(const Int4Args& a, int64_t t, int64_t o) {
    uint32_t word = (uint32_t) a.qzeros[t * (a.rows / 8) + o / 8];
    return (float) (((word >> (4 * (o % 8))) & 15u) + 1u);
}

namespace scalar {

static void bnb_blocks(const BnbArgs& a, int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
        float s = block_scale(a, b);
        float tab[16];
        for (int c = 0; c < 16; c++) tab[c] = a.quant_map[c] * s;
        int64_t e0 = b * a.blocksize, e1 = std::min(a.n, e0 + a.blocksize);
        if (a.dtype == OUT_F32) {
            lookup_tail(a.packed, e0, e1, tab, (float*) a.out);
        } else {
            uint16_t tab16[16];
            convert_table(tab, a.dtype, tab16);
            lookup_tail(a.packed, e0, e1, tab16, (uint16_t*) a.out);
        }
    }
}

static void int4_rows(const Int4Args& a, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
        for (int64_t i = 0; i < a.cols; i++) {
            uint32_t word = (uint32_t) a.qweight[(i / 8) * a.rows + o];
            float q = (float) ((word >> (4 * (i % 8))) & 15u);
            int64_t t = i / a.group;
            float v = (q - int4_zero(a, t, o)) * half_to_float(a.scales[t * a.rows + o]);
            if (a.dtype == OUT_F32) ((float*) a.out)[o * a.cols + i] = v;
            else ((uint16_t*) a.out)[o * a.cols + i] = convert_one(v, a.dtype);
        }
    }
}

}  // namespace scalar

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {

// 16 packed bytes -> the 32 codes in element order (even element = high nibble), as two 16-byte vectors.
static inline void nibbles(const uint8_t* p, __m128i& first, __m128i& second) {
    __m128i bytes = _mm_loadu_si128((const __m128i*) p), m = _mm_set1_epi8(15);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), m), lo = _mm_and_si128(bytes, m);
    first = _mm_unpacklo_epi8(hi, lo);
    second = _mm_unpackhi_epi8(hi, lo);
}

static inline __m256 lookup8(__m256 t_lo, __m256 t_hi, __m128i codes8) {  // codes in the low 8 bytes
    __m256i idx = _mm256_cvtepu8_epi32(codes8);
    __m256 lo = _mm256_permutevar8x32_ps(t_lo, idx), hi = _mm256_permutevar8x32_ps(t_hi, idx);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

static inline __m128i bf16x8(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)),
                                 _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
    r = _mm256_srli_epi32(r, 16);
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0xFFFF), nan);
    __m256i packed = _mm256_packus_epi32(r, r);  // per lane: r0..3 r0..3 | r4..7 r4..7
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

static inline __m128i to16x8(__m256 v, int dtype) {
    return dtype == OUT_BF16 ? bf16x8(v) : _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

static void bnb_blocks(const BnbArgs& a, int64_t b0, int64_t b1) {
    __m256 q_lo = _mm256_loadu_ps(a.quant_map), q_hi = _mm256_loadu_ps(a.quant_map + 8);
    const __m128i even_bytes = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i odd_bytes = _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    for (int64_t b = b0; b < b1; b++) {
        __m256 s = _mm256_set1_ps(block_scale(a, b));
        __m256 t_lo = _mm256_mul_ps(q_lo, s), t_hi = _mm256_mul_ps(q_hi, s);
        int64_t e0 = b * a.blocksize, e1 = std::min(a.n, e0 + a.blocksize), e = e0;
        if (a.dtype == OUT_F32) {
            float* out = (float*) a.out;
            for (; e + 32 <= e1; e += 32) {
                __m128i c0, c1;
                nibbles(a.packed + e / 2, c0, c1);
                _mm256_storeu_ps(out + e, lookup8(t_lo, t_hi, c0));
                _mm256_storeu_ps(out + e + 8, lookup8(t_lo, t_hi, _mm_srli_si128(c0, 8)));
                _mm256_storeu_ps(out + e + 16, lookup8(t_lo, t_hi, c1));
                _mm256_storeu_ps(out + e + 24, lookup8(t_lo, t_hi, _mm_srli_si128(c1, 8)));
            }
            if (e < e1) {
                float tab[16];
                _mm256_storeu_ps(tab, t_lo);
                _mm256_storeu_ps(tab + 8, t_hi);
                lookup_tail(a.packed, e, e1, tab, out);
            }
        } else {
            uint16_t* out = (uint16_t*) a.out;
            __m128i w_lo = to16x8(t_lo, a.dtype), w_hi = to16x8(t_hi, a.dtype);  // 16-bit entries 0..7, 8..15
            // byte tables for pshufb: low bytes and high bytes of the 16 entries
            __m128i tab_lo = _mm_unpacklo_epi64(_mm_shuffle_epi8(w_lo, even_bytes), _mm_shuffle_epi8(w_hi, even_bytes));
            __m128i tab_hi = _mm_unpacklo_epi64(_mm_shuffle_epi8(w_lo, odd_bytes), _mm_shuffle_epi8(w_hi, odd_bytes));
            for (; e + 32 <= e1; e += 32) {
                __m128i c0, c1;
                nibbles(a.packed + e / 2, c0, c1);
                __m128i l0 = _mm_shuffle_epi8(tab_lo, c0), h0 = _mm_shuffle_epi8(tab_hi, c0);
                __m128i l1 = _mm_shuffle_epi8(tab_lo, c1), h1 = _mm_shuffle_epi8(tab_hi, c1);
                _mm_storeu_si128((__m128i*) (out + e), _mm_unpacklo_epi8(l0, h0));
                _mm_storeu_si128((__m128i*) (out + e + 8), _mm_unpackhi_epi8(l0, h0));
                _mm_storeu_si128((__m128i*) (out + e + 16), _mm_unpacklo_epi8(l1, h1));
                _mm_storeu_si128((__m128i*) (out + e + 24), _mm_unpackhi_epi8(l1, h1));
            }
            if (e < e1) {
                uint16_t tab16[16];
                _mm_storeu_si128((__m128i*) tab16, w_lo);
                _mm_storeu_si128((__m128i*) (tab16 + 8), w_hi);
                lookup_tail(a.packed, e, e1, tab16, out);
            }
        }
    }
}

// Rows [o0, o1) (multiples of 8): for each 8 input columns one int32 of qweight per row.
static void int4_rows(const Int4Args& a, int64_t o0, int64_t o1) {
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), m = _mm256_set1_epi32(15);
    const int64_t ks_per_group = a.group / 8;
    for (int64_t ob = o0; ob < o1; ob += 16) {
        int R = (int) std::min<int64_t>(16, o1 - ob);
        float zf[16], sf[16];
        for (int64_t t = 0; t < a.cols / a.group; t++) {
            for (int r = 0; r < R; r++) {
                zf[r] = int4_zero(a, t, ob + r);
                sf[r] = half_to_float(a.scales[t * a.rows + ob + r]);
            }
            for (int64_t k = t * ks_per_group; k < (t + 1) * ks_per_group; k++) {
                const int32_t* qrow = a.qweight + k * a.rows + ob;
                for (int r = 0; r < R; r++) {
                    __m256i q = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(qrow[r]), shifts), m);
                    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(zf[r])), _mm256_set1_ps(sf[r]));
                    int64_t at = (ob + r) * a.cols + 8 * k;
                    if (a.dtype == OUT_F32) _mm256_storeu_ps((float*) a.out + at, v);
                    else _mm_storeu_si128((__m128i*) ((uint16_t*) a.out + at), to16x8(v, a.dtype));
                }
            }
        }
    }
}

}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
namespace avx512 {

static inline __m256i bf16x16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
                                 _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
    r = _mm512_srli_epi32(r, 16);
    r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0xFFFF));
    return _mm512_cvtepi32_epi16(r);
}

static inline __m256i to16x16(__m512 v, int dtype) {
    return dtype == OUT_BF16 ? bf16x16(v) : _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

static void bnb_blocks(const BnbArgs& a, int64_t b0, int64_t b1) {
    __m512 qmap = _mm512_loadu_ps(a.quant_map);
    for (int64_t b = b0; b < b1; b++) {
        __m512 tab = _mm512_mul_ps(qmap, _mm512_set1_ps(block_scale(a, b)));
        int64_t e0 = b * a.blocksize, e1 = std::min(a.n, e0 + a.blocksize), e = e0;
        if (a.dtype == OUT_F32) {
            float* out = (float*) a.out;
            for (; e + 32 <= e1; e += 32) {
                __m128i c0, c1;
                avx2::nibbles(a.packed + e / 2, c0, c1);
                _mm512_storeu_ps(out + e, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(c0), tab));
                _mm512_storeu_ps(out + e + 16, _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(c1), tab));
            }
            if (e < e1) {
                float t[16];
                _mm512_storeu_ps(t, tab);
                lookup_tail(a.packed, e, e1, t, out);
            }
        } else {
            uint16_t* out = (uint16_t*) a.out;
            __m256i t16 = to16x16(tab, a.dtype);
            __m512i tab16 = _mm512_zextsi256_si512(t16);
            for (; e + 32 <= e1; e += 32) {
                __m128i c0, c1;
                avx2::nibbles(a.packed + e / 2, c0, c1);
                __m512i idx = _mm512_cvtepu8_epi16(_mm256_set_m128i(c1, c0));
                _mm512_storeu_si512(out + e, _mm512_permutexvar_epi16(idx, tab16));
            }
            if (e < e1) {
                uint16_t t[16];
                _mm256_storeu_si256((__m256i*) t, t16);
                lookup_tail(a.packed, e, e1, t, out);
            }
        }
    }
}

// Two qweight words (input columns 8k..8k+15) per row and step; needs group % 16 == 0 so both share a group.
static void int4_rows(const Int4Args& a, int64_t o0, int64_t o1) {
    const __m512i shifts = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const __m512i m = _mm512_set1_epi32(15);
    const int64_t ks_per_group = a.group / 8;
    for (int64_t ob = o0; ob < o1; ob += 16) {
        int R = (int) std::min<int64_t>(16, o1 - ob);
        float zf[16], sf[16];
        for (int64_t t = 0; t < a.cols / a.group; t++) {
            for (int r = 0; r < R; r++) {
                zf[r] = int4_zero(a, t, ob + r);
                sf[r] = half_to_float(a.scales[t * a.rows + ob + r]);
            }
            for (int64_t k = t * ks_per_group; k < (t + 1) * ks_per_group; k += 2) {
                const int32_t* q0 = a.qweight + k * a.rows + ob;
                const int32_t* q1 = q0 + a.rows;
                for (int r = 0; r < R; r++) {
                    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(q0[r])), _mm256_set1_epi32(q1[r]), 1);
                    __m512i q = _mm512_and_si512(_mm512_srlv_epi32(w, shifts), m);
                    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(zf[r])), _mm512_set1_ps(sf[r]));
                    int64_t at = (ob + r) * a.cols + 8 * k;
                    if (a.dtype == OUT_F32) _mm512_storeu_ps((float*) a.out + at, v);
                    else _mm256_storeu_si256((__m256i*) ((uint16_t*) a.out + at), to16x16(v, a.dtype));
                }
            }
        }
    }
}

}  // namespace avx512
#pragma GCC pop_options

static bool valid_dtype(int dtype) {
    return dtype == OUT_F32 || dtype == OUT_BF16 || dtype == OUT_F16;
}

}  // namespace qoft4j

using namespace qoft4j;

extern "C" {

const char* qoft4j_last_error() {
    return last_error().c_str();
}

int qoft4j_isa() {
    return isa_level();
}

int qoft4j_set_isa(int level) {
    int best = detect_isa();
    isa_level() = std::max(0, std::min(level, best));
    return isa_level();
}

int qoft4j_threads() {
    return pool().threads();
}

void qoft4j_set_threads(int n) {
    pool().set_threads(n);
}

int qoft4j_copy(int64_t dst, int64_t src, int64_t bytes) {
    if (!dst || !src || bytes < 0) return fail("qoft4j_copy: invalid arguments");
    const int64_t page = 4096;
    int64_t pages = (bytes + page - 1) / page;
    parallel_ranges(pages, 64, [&](int64_t p0, int64_t p1) {
        int64_t from = p0 * page, to = std::min(bytes, p1 * page);
        memcpy((char*) dst + from, (const char*) src + from, (size_t) (to - from));
    });
    return 0;
}

int qoft4j_dequant_bnb(int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map, int64_t nested_absmax,
                       int64_t nested_map, float offset, int64_t nested_blocksize, int64_t n, int64_t blocksize,
                       int64_t out, int out_dtype) {
    if (!packed || !absmax || !quant_map || !out || n < 0 || blocksize < 32 || blocksize % 32 != 0 || !valid_dtype(out_dtype)
            || (absmax_is_codes && (!nested_absmax || !nested_map || nested_blocksize < 1)))
        return fail("qoft4j_dequant_bnb: invalid arguments");
    BnbArgs a;
    a.packed = (const uint8_t*) packed;
    a.absmax = absmax_is_codes ? nullptr : (const float*) absmax;
    a.absmax_codes = absmax_is_codes ? (const uint8_t*) absmax : nullptr;
    a.quant_map = (const float*) quant_map;
    a.nested_absmax = (const float*) nested_absmax;
    a.nested_map = (const float*) nested_map;
    a.offset = offset;
    a.nested_blocksize = nested_blocksize;
    a.n = n;
    a.blocksize = blocksize;
    a.out = (void*) out;
    a.dtype = out_dtype;
    int64_t nblocks = (n + blocksize - 1) / blocksize;
    int isa = isa_level();
    parallel_ranges(nblocks, std::max<int64_t>(1, 65536 / blocksize), [&](int64_t b0, int64_t b1) {
        if (isa == ISA_AVX512) avx512::bnb_blocks(a, b0, b1);
        else if (isa == ISA_AVX2) avx2::bnb_blocks(a, b0, b1);
        else scalar::bnb_blocks(a, b0, b1);
    });
    return 0;
}

int qoft4j_dequant_int4(int64_t qweight, int64_t qzeros, int64_t scales, int64_t rows, int64_t cols, int64_t group,
                        int64_t out, int out_dtype) {
    if (!qweight || !qzeros || !scales || !out || rows < 0 || cols < 0 || rows % 8 || group < 8 || group % 8 || cols % group
            || !valid_dtype(out_dtype))
        return fail("qoft4j_dequant_int4: invalid arguments");
    Int4Args a{(const int32_t*) qweight, (const int32_t*) qzeros, (const uint16_t*) scales, rows, cols, group, (void*) out, out_dtype};
    int isa = isa_level();
    int64_t tiles = (rows + 15) / 16;
    parallel_ranges(tiles, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, 16 * cols)), [&](int64_t t0, int64_t t1) {
        int64_t o0 = t0 * 16, o1 = std::min(rows, t1 * 16);
        if (isa == ISA_AVX512 && group % 16 == 0) avx512::int4_rows(a, o0, o1);
        else if (isa >= ISA_AVX2) avx2::int4_rows(a, o0, o1);
        else scalar::int4_rows(a, o0, o1);
    });
    return 0;
}

}  // extern "C"
