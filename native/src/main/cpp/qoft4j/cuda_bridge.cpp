// Reaches libqoft4j_cuda.so through dlopen, so this library builds and loads on machines without
// CUDA; the CUDA library (nvcc-built, static cudart) is opened only when Java asks for it on a CUDA device.
#include <dlfcn.h>
#include "glibc_compat.h"
#include <stdint.h>
#include <mutex>
#include <string>
#include "common.h"
#include "qoft4j_cuda_abi.h"
#include "qoft4j_native.h"

namespace qoft4j {

struct CudaLibrary {
    void* handle = nullptr;
    int (*abi_version)(void) = nullptr;
    const char* (*error)(void) = nullptr;
    int (*device_count)(int*) = nullptr;
    int (*dequant_bnb)(int, const qoft4j_bnb_weight*, void*, int, void*) = nullptr;
    int (*dequant_int4)(int, const int32_t*, const int32_t*, const uint16_t*, int64_t, int64_t, int64_t, void*, int, void*) = nullptr;
    int (*gemv_bnb)(int, const qoft4j_bnb_weight*, int64_t, int64_t, const void*, void*, int, void*) = nullptr;
    int (*synchronize)(int) = nullptr;
};

static CudaLibrary& cuda() {
    static CudaLibrary lib;
    return lib;
}

template <typename F>
static bool resolve(void* handle, const char* name, F& fn) {
    fn = (F) dlsym(handle, name);
    return fn != nullptr;
}

static int cuda_status(int code) {
    if (code == 0) return 0;
    return fail(std::string("CUDA error ") + std::to_string(code) + ": " + cuda().error());
}

static qoft4j_bnb_weight bnb_weight(int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map, int64_t nested_absmax,
                                    int64_t nested_map, float offset, int64_t nested_blocksize, int64_t n, int64_t blocksize) {
    qoft4j_bnb_weight w;
    w.packed = (const uint8_t*) packed;
    w.absmax = (const void*) absmax;
    w.absmax_is_codes = absmax_is_codes;
    w.quant_map = (const float*) quant_map;
    w.nested_absmax = (const float*) nested_absmax;
    w.nested_map = (const float*) nested_map;
    w.offset = offset;
    w.nested_blocksize = nested_blocksize;
    w.n = n;
    w.blocksize = blocksize;
    return w;
}

}  // namespace qoft4j

using namespace qoft4j;

extern "C" {

int qoft4j_cu_open(const char* path) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    CudaLibrary& lib = cuda();
    if (lib.handle) return 0;
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return fail(std::string("cannot load ") + path + ": " + dlerror());
    CudaLibrary l;
    l.handle = h;
    if (!resolve(h, "qoft4j_cuda_abi_version", l.abi_version) || !resolve(h, "qoft4j_cuda_error", l.error)
            || !resolve(h, "qoft4j_cuda_device_count", l.device_count) || !resolve(h, "qoft4j_cuda_dequant_bnb", l.dequant_bnb)
            || !resolve(h, "qoft4j_cuda_dequant_int4", l.dequant_int4) || !resolve(h, "qoft4j_cuda_gemv_bnb", l.gemv_bnb)
            || !resolve(h, "qoft4j_cuda_synchronize", l.synchronize)) {
        dlclose(h);
        return fail(std::string(path) + " lacks a qoft4j_cuda_* symbol");
    }
    if (l.abi_version() != QOFT4J_CUDA_ABI_VERSION) {
        int v = l.abi_version();
        dlclose(h);
        return fail(std::string(path) + " has ABI version " + std::to_string(v) + ", expected "
                    + std::to_string(QOFT4J_CUDA_ABI_VERSION));
    }
    lib = l;
    return 0;
}

int qoft4j_cu_device_count(void) {
    if (!cuda().handle) return fail("the CUDA kernel library is not loaded");
    int count = 0;
    if (cuda_status(cuda().device_count(&count))) return -1;
    return count;
}

int qoft4j_cu_dequant_bnb(int device, int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map,
                          int64_t nested_absmax, int64_t nested_map, float offset, int64_t nested_blocksize, int64_t n,
                          int64_t blocksize, int64_t out, int out_dtype, int64_t stream) {
    if (!cuda().handle) return fail("the CUDA kernel library is not loaded");
    qoft4j_bnb_weight w = bnb_weight(packed, absmax, absmax_is_codes, quant_map, nested_absmax, nested_map, offset,
                                     nested_blocksize, n, blocksize);
    return cuda_status(cuda().dequant_bnb(device, &w, (void*) out, out_dtype, (void*) stream));
}

int qoft4j_cu_dequant_int4(int device, int64_t qweight, int64_t qzeros, int64_t scales, int64_t rows, int64_t cols,
                           int64_t group, int64_t out, int out_dtype, int64_t stream) {
    if (!cuda().handle) return fail("the CUDA kernel library is not loaded");
    return cuda_status(cuda().dequant_int4(device, (const int32_t*) qweight, (const int32_t*) qzeros, (const uint16_t*) scales,
                                           rows, cols, group, (void*) out, out_dtype, (void*) stream));
}

int qoft4j_cu_gemv_bnb(int device, int64_t packed, int64_t absmax, int absmax_is_codes, int64_t quant_map,
                       int64_t nested_absmax, int64_t nested_map, float offset, int64_t nested_blocksize, int64_t rows,
                       int64_t cols, int64_t blocksize, int64_t x, int64_t y, int x_dtype, int64_t stream) {
    if (!cuda().handle) return fail("the CUDA kernel library is not loaded");
    qoft4j_bnb_weight w = bnb_weight(packed, absmax, absmax_is_codes, quant_map, nested_absmax, nested_map, offset,
                                     nested_blocksize, rows * cols, blocksize);
    return cuda_status(cuda().gemv_bnb(device, &w, rows, cols, (const void*) x, (void*) y, x_dtype, (void*) stream));
}

int qoft4j_cu_synchronize(int device) {
    if (!cuda().handle) return fail("the CUDA kernel library is not loaded");
    return cuda_status(cuda().synchronize(device));
}

}  // extern "C"
