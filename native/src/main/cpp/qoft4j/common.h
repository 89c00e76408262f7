// What the CPU kernels share: error reporting, the thread pool, the instruction-set level.
#pragma once
#include <stdint.h>
#include <string.h>
#include <algorithm>
#include <string>
#include "thread_pool.h"

namespace qoft4j {

enum OutDtype { OUT_F32 = 0, OUT_BF16 = 1, OUT_F16 = 2 };
enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

inline std::string& last_error() {
    static thread_local std::string message;
    return message;
}

inline int fail(const std::string& message) {
    last_error() = message;
    return -1;
}

inline ThreadPool& pool() {
    static ThreadPool* p = new ThreadPool();  // never destroyed: workers must not be joined during JVM exit
    return *p;
}

inline int detect_isa() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return ISA_AVX2;
    return ISA_SCALAR;
}

inline int& isa_level() {
    static int level = detect_isa();
    return level;
}

inline uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

// Splits [0, count) into contiguous parts over the pool, each of at least min_per_part items.
template <typename F>
inline void parallel_ranges(int64_t count, int64_t min_per_part, F body) {
    int64_t max_parts = std::max<int64_t>(1, count / std::max<int64_t>(1, min_per_part));
    pool().run((int) std::min<int64_t>(max_parts, 1 << 20), [&](int part, int parts) {
        int64_t lo = count * part / parts, hi = count * (part + 1) / parts;
        if (lo < hi) body(lo, hi);
    });
}

}  // namespace qoft4j
