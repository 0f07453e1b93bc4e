// Run-time choice of the instruction set for the hot loops (private to the library).
//
// The library is built for baseline x86-64 by default (ROOEFT_NATIVE=OFF), so it runs on every
// machine of a batch farm. The loops that dominate an NLL evaluation (Math::expInPlace,
// Math::logInPlace, the NLL kernel's block pass) are compiled a second time for AVX2+FMA and the
// copy is chosen once per process from the CPU's features. ROOEFT_SIMD=baseline in the
// environment forces the baseline copy (for comparisons). Both copies compute the same formula
// in the same order; they differ by fused multiply-adds and libmvec's SSE vs AVX2 variants
// (≤ 4 ulp per elementary function), i.e. ~1e-16 relative.
#ifndef RooEFT_CpuDispatch_h
#define RooEFT_CpuDispatch_h

// Only for GCC/Clang on x86-64, and only when the whole build is not already AVX2
// (-march=native on an AVX2 machine makes the dispatch pointless).
#if !defined(ROOEFT_NO_DISPATCH) && (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) &&                \
   !defined(__AVX2__)
#define ROOEFT_DISPATCH_AVX2 1
#define ROOEFT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace RooEFT {
namespace Detail {

/// True if the AVX2+FMA copies of the hot loops are used in this process (decided on first call:
/// the CPU has AVX2 and FMA and ROOEFT_SIMD is not "baseline"). False when not dispatching.
bool useAvx2Fma();

/// The instruction set the hot loops use: "native" (built with -march=native or another
/// AVX2 target), "avx2+fma" or "baseline" (run-time dispatch).
const char *simdPath();

} // namespace Detail
} // namespace RooEFT

#endif
