// The OFT blockwise rotation on CPU, fp32:  x [tokens, r*b] row-major, R [r, b, b].
//   forward        y[:, blk i]  = x[:, blk i] R_i
//   grad of x      gx[:, blk i] = gy[:, blk i] R_i^T       (qoft4j_rotate with transpose = 1)
//   grad of R      gR_i         = x[:, blk i]^T gy[:, blk i], summed over tokens
// Register-blocked micro-kernels (AVX-512: 8 token rows x 32 columns, AVX2: 6 x 16) with masked edges,
// so any b works. Accumulation uses FMA, so results differ from libtorch's matmul by rounding only.
#include <immintrin.h>
#include <stdint.h>
#include <algorithm>
#include <vector>
#include "common.h"
#include "qoft4j_native.h"

namespace qoft4j {

struct RotArgs {
    const float* x;  // [tokens, r*b]
    const float* m;  // [r, b, b] (R, or R transposed per block)
    float* y;        // [tokens, r*b]
    int64_t tokens, r, b;
};

namespace scalar {
static void rotate_tokens(const RotArgs& a, int64_t t0, int64_t t1) {
    int64_t d = a.r * a.b;
    for (int64_t i = 0; i < a.r; i++) {
        const float* m = a.m + i * a.b * a.b;
        for (int64_t t = t0; t < t1; t++) {
            const float* x = a.x + t * d + i * a.b;
            float* y = a.y + t * d + i * a.b;
            for (int64_t j = 0; j < a.b; j++) y[j] = 0.0f;
            for (int64_t k = 0; k < a.b; k++) {
                float xv = x[k];
                for (int64_t j = 0; j < a.b; j++) y[j] += xv * m[k * a.b + j];
            }
        }
    }
}

// gR for tasks [w0, w1): a task is one block i (all b x b entries).
static void grad_tasks(const float* x, const float* gy, float* gr, int64_t tokens, int64_t r, int64_t b, int64_t w0, int64_t w1) {
    int64_t d = r * b;
    for (int64_t i = w0; i < w1; i++) {
        float* g = gr + i * b * b;
        for (int64_t q = 0; q < b * b; q++) g[q] = 0.0f;
        for (int64_t t = 0; t < tokens; t++) {
            const float* xr = x + t * d + i * b;
            const float* gyr = gy + t * d + i * b;
            for (int64_t k = 0; k < b; k++)
                for (int64_t j = 0; j < b; j++) g[k * b + j] += xr[k] * gyr[j];
        }
    }
}
}  // namespace scalar

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {

static inline __m256i col_mask(int64_t remaining) {
    int n = (int) std::min<int64_t>(8, std::max<int64_t>(0, remaining));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int ROWS>
static inline void rot_tile(const float* x, int64_t ldx, const float* m, int64_t b, float* y, int64_t c0) {
    __m256i k0 = col_mask(b - c0), k1 = col_mask(b - c0 - 8);
    __m256 acc[ROWS][2];
    for (int rr = 0; rr < ROWS; rr++) acc[rr][0] = acc[rr][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < b; k++) {
        __m256 m0 = _mm256_maskload_ps(m + k * b + c0, k0), m1 = _mm256_maskload_ps(m + k * b + c0 + 8, k1);
        for (int rr = 0; rr < ROWS; rr++) {
            __m256 xv = _mm256_broadcast_ss(x + rr * ldx + k);
            acc[rr][0] = _mm256_fmadd_ps(xv, m0, acc[rr][0]);
            acc[rr][1] = _mm256_fmadd_ps(xv, m1, acc[rr][1]);
        }
    }
    for (int rr = 0; rr < ROWS; rr++) {
        _mm256_maskstore_ps(y + rr * ldx + c0, k0, acc[rr][0]);
        _mm256_maskstore_ps(y + rr * ldx + c0 + 8, k1, acc[rr][1]);
    }
}

static void rotate_tokens(const RotArgs& a, int64_t t0, int64_t t1) {
    int64_t d = a.r * a.b;
    for (int64_t i = 0; i < a.r; i++) {
        const float* m = a.m + i * a.b * a.b;
        for (int64_t t = t0; t < t1; t += 6) {
            int rows = (int) std::min<int64_t>(6, t1 - t);
            const float* x = a.x + t * d + i * a.b;
            float* y = a.y + t * d + i * a.b;
            for (int64_t c0 = 0; c0 < a.b; c0 += 16) {
                switch (rows) {
                    case 6: rot_tile<6>(x, d, m, a.b, y, c0); break;
                    case 5: rot_tile<5>(x, d, m, a.b, y, c0); break;
                    case 4: rot_tile<4>(x, d, m, a.b, y, c0); break;
                    case 3: rot_tile<3>(x, d, m, a.b, y, c0); break;
                    case 2: rot_tile<2>(x, d, m, a.b, y, c0); break;
                    default: rot_tile<1>(x, d, m, a.b, y, c0); break;
                }
            }
        }
    }
}

// One task = block i, rows k0..k0+5 of gR_i, columns c0..c0+15.
static void grad_tile(const float* x, const float* gy, float* g, int64_t tokens, int64_t d, int64_t b, int64_t k0, int64_t c0) {
    int rows = (int) std::min<int64_t>(6, b - k0);
    __m256i m0 = col_mask(b - c0), m1 = col_mask(b - c0 - 8);
    __m256 acc[6][2];
    for (int rr = 0; rr < 6; rr++) acc[rr][0] = acc[rr][1] = _mm256_setzero_ps();
    for (int64_t t = 0; t < tokens; t++) {
        const float* gyr = gy + t * d + c0;
        __m256 g0 = _mm256_maskload_ps(gyr, m0), g1 = _mm256_maskload_ps(gyr + 8, m1);
        const float* xr = x + t * d + k0;
        for (int rr = 0; rr < 6; rr++) {
            if (rr >= rows) break;
            __m256 xv = _mm256_broadcast_ss(xr + rr);
            acc[rr][0] = _mm256_fmadd_ps(xv, g0, acc[rr][0]);
            acc[rr][1] = _mm256_fmadd_ps(xv, g1, acc[rr][1]);
        }
    }
    for (int rr = 0; rr < rows; rr++) {
        _mm256_maskstore_ps(g + (k0 + rr) * b + c0, m0, acc[rr][0]);
        _mm256_maskstore_ps(g + (k0 + rr) * b + c0 + 8, m1, acc[rr][1]);
    }
}

static void grad_tasks(const float* x, const float* gy, float* gr, int64_t tokens, int64_t r, int64_t b, int64_t w0, int64_t w1) {
    int64_t kt = (b + 5) / 6, ct = (b + 15) / 16, d = r * b;
    for (int64_t w = w0; w < w1; w++) {
        int64_t i = w / (kt * ct), rem = w % (kt * ct);
        grad_tile(x + i * b, gy + i * b, gr + i * b * b, tokens, d, b, (rem / ct) * 6, (rem % ct) * 16);
    }
}

}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
namespace avx512 {

static inline __mmask16 col_mask(int64_t remaining) {
    int64_t n = std::min<int64_t>(16, std::max<int64_t>(0, remaining));
    return (__mmask16) ((1u << n) - 1u);
}

template <int ROWS>
static inline void rot_tile(const float* x, int64_t ldx, const float* m, int64_t b, float* y, int64_t c0) {
    __mmask16 k0 = col_mask(b - c0), k1 = col_mask(b - c0 - 16);
    __m512 acc[ROWS][2];
    for (int rr = 0; rr < ROWS; rr++) acc[rr][0] = acc[rr][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < b; k++) {
        __m512 m0 = _mm512_maskz_loadu_ps(k0, m + k * b + c0), m1 = _mm512_maskz_loadu_ps(k1, m + k * b + c0 + 16);
        for (int rr = 0; rr < ROWS; rr++) {
            __m512 xv = _mm512_set1_ps(x[rr * ldx + k]);
            acc[rr][0] = _mm512_fmadd_ps(xv, m0, acc[rr][0]);
            acc[rr][1] = _mm512_fmadd_ps(xv, m1, acc[rr][1]);
        }
    }
    for (int rr = 0; rr < ROWS; rr++) {
        _mm512_mask_storeu_ps(y + rr * ldx + c0, k0, acc[rr][0]);
        _mm512_mask_storeu_ps(y + rr * ldx + c0 + 16, k1, acc[rr][1]);
    }
}

static void rotate_tokens(const RotArgs& a, int64_t t0, int64_t t1) {
    int64_t d = a.r * a.b;
    for (int64_t i = 0; i < a.r; i++) {
        const float* m = a.m + i * a.b * a.b;
        for (int64_t t = t0; t < t1; t += 8) {
            int rows = (int) std::min<int64_t>(8, t1 - t);
            const float* x = a.x + t * d + i * a.b;
            float* y = a.y + t * d + i * a.b;
            for (int64_t c0 = 0; c0 < a.b; c0 += 32) {
                switch (rows) {
                    case 8: rot_tile<8>(x, d, m, a.b, y, c0); break;
                    case 7: rot_tile<7>(x, d, m, a.b, y, c0); break;
                    case 6: rot_tile<6>(x, d, m, a.b, y, c0); break;
                    case 5: rot_tile<5>(x, d, m, a.b, y, c0); break;
                    case 4: rot_tile<4>(x, d, m, a.b, y, c0); break;
                    case 3: rot_tile<3>(x, d, m, a.b, y, c0); break;
                    case 2: rot_tile<2>(x, d, m, a.b, y, c0); break;
                    default: rot_tile<1>(x, d, m, a.b, y, c0); break;
                }
            }
        }
    }
}

static void grad_tile(const float* x, const float* gy, float* g, int64_t tokens, int64_t d, int64_t b, int64_t k0, int64_t c0) {
    int rows = (int) std::min<int64_t>(8, b - k0);
    __mmask16 m0 = col_mask(b - c0), m1 = col_mask(b - c0 - 16);
    __m512 acc[8][2];
    for (int rr = 0; rr < 8; rr++) acc[rr][0] = acc[rr][1] = _mm512_setzero_ps();
    for (int64_t t = 0; t < tokens; t++) {
        const float* gyr = gy + t * d + c0;
        __m512 g0 = _mm512_maskz_loadu_ps(m0, gyr), g1 = _mm512_maskz_loadu_ps(m1, gyr + 16);
        const float* xr = x + t * d + k0;
        for (int rr = 0; rr < 8; rr++) {
            if (rr >= rows) break;
            __m512 xv = _mm512_set1_ps(xr[rr]);
            acc[rr][0] = _mm512_fmadd_ps(xv, g0, acc[rr][0]);
            acc[rr][1] = _mm512_fmadd_ps(xv, g1, acc[rr][1]);
        }
    }
    for (int rr = 0; rr < rows; rr++) {
        _mm512_mask_storeu_ps(g + (k0 + rr) * b + c0, m0, acc[rr][0]);
        _mm512_mask_storeu_ps(g + (k0 + rr) * b + c0 + 16, m1, acc[rr][1]);
    }
}

static void grad_tasks(const float* x, const float* gy, float* gr, int64_t tokens, int64_t r, int64_t b, int64_t w0, int64_t w1) {
    int64_t kt = (b + 7) / 8, ct = (b + 31) / 32, d = r * b;
    for (int64_t w = w0; w < w1; w++) {
        int64_t i = w / (kt * ct), rem = w % (kt * ct);
        grad_tile(x + i * b, gy + i * b, gr + i * b * b, tokens, d, b, (rem / ct) * 8, (rem % ct) * 32);
    }
}

}  // namespace avx512
#pragma GCC pop_options

}  // namespace qoft4j

using namespace qoft4j;

extern "C" {

int qoft4j_rotate(int64_t x, int64_t rot, int64_t y, int64_t tokens, int64_t r, int64_t b, int transpose) {
    if (!x || !rot || !y || tokens < 0 || r < 1 || b < 1 || x == y) return fail("qoft4j_rotate: invalid arguments");
    std::vector<float> transposed;
    const float* m = (const float*) rot;
    if (transpose) {
        transposed.resize((size_t) (r * b * b));
        for (int64_t i = 0; i < r; i++)
            for (int64_t k = 0; k < b; k++)
                for (int64_t j = 0; j < b; j++) transposed[(size_t) (i * b * b + j * b + k)] = m[i * b * b + k * b + j];
        m = transposed.data();
    }
    RotArgs a{(const float*) x, m, (float*) y, tokens, r, b};
    int isa = isa_level();
    parallel_ranges(tokens, std::max<int64_t>(8, 65536 / (r * b)), [&](int64_t t0, int64_t t1) {
        if (isa == ISA_AVX512) avx512::rotate_tokens(a, t0, t1);
        else if (isa == ISA_AVX2) avx2::rotate_tokens(a, t0, t1);
        else scalar::rotate_tokens(a, t0, t1);
    });
    return 0;
}

int qoft4j_rotate_grad(int64_t x, int64_t gy, int64_t grad_rot, int64_t tokens, int64_t r, int64_t b) {
    if (!x || !gy || !grad_rot || tokens < 0 || r < 1 || b < 1) return fail("qoft4j_rotate_grad: invalid arguments");
    const float* xp = (const float*) x;
    const float* gyp = (const float*) gy;
    float* gr = (float*) grad_rot;
    int isa = isa_level();
    int64_t tasks = isa == ISA_AVX512 ? r * ((b + 7) / 8) * ((b + 31) / 32)
                  : isa == ISA_AVX2 ? r * ((b + 5) / 6) * ((b + 15) / 16) : r;
    parallel_ranges(tasks, 1, [&](int64_t w0, int64_t w1) {
        if (isa == ISA_AVX512) avx512::grad_tasks(xp, gyp, gr, tokens, r, b, w0, w1);
        else if (isa == ISA_AVX2) avx2::grad_tasks(xp, gyp, gr, tokens, r, b, w0, w1);
        else scalar::grad_tasks(xp, gyp, gr, tokens, r, b, w0, w1);
    });
    return 0;
}

}  // extern "C"
