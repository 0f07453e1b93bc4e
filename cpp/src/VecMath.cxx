// Vectorised elementary functions. This translation unit alone is compiled with
// -ffast-math so that GCC maps the loop onto glibc's vector math library
// (libmvec, ≤ 4 ulp). Callers pass finite arguments (dot products of finite logarithms).
// A portable build carries a baseline (SSE2) and an AVX2+FMA copy of each loop, chosen at
// run time (CpuDispatch.h).
#include "CpuDispatch.h"

#include "RooEFT/Math.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace {

[[gnu::always_inline]] inline void expLoop(double *x, std::size_t n)
{
   for (std::size_t i = 0; i < n; ++i)
      x[i] = std::exp(x[i]);
}

[[gnu::always_inline]] inline void logLoop(double *x, std::size_t n)
{
   for (std::size_t i = 0; i < n; ++i)
      x[i] = std::log(x[i]);
}

#ifdef ROOEFT_DISPATCH_AVX2
ROOEFT_TARGET_AVX2 void expLoopAvx2(double *x, std::size_t n) { expLoop(x, n); }

ROOEFT_TARGET_AVX2 void logLoopAvx2(double *x, std::size_t n) { logLoop(x, n); }

bool detectAvx2Fma()
{
   const char *env = std::getenv("ROOEFT_SIMD");
   if (env && std::strcmp(env, "baseline") == 0)
      return false;
   __builtin_cpu_init();
   return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

} // namespace

bool RooEFT::Detail::useAvx2Fma()
{
#ifdef ROOEFT_DISPATCH_AVX2
   static const bool use = detectAvx2Fma();
   return use;
#else
   return false;
#endif
}

const char *RooEFT::Detail::simdPath()
{
#ifdef ROOEFT_DISPATCH_AVX2
   return useAvx2Fma() ? "avx2+fma" : "baseline";
#elif defined(__AVX2__)
   return "native";
#else
   return "baseline";
#endif
}

void RooEFT::Math::expInPlace(double *x, std::size_t n)
{
#ifdef ROOEFT_DISPATCH_AVX2
   if (Detail::useAvx2Fma())
      return expLoopAvx2(x, n);
#endif
   expLoop(x, n);
}

void RooEFT::Math::logInPlace(double *x, std::size_t n)
{
#ifdef ROOEFT_DISPATCH_AVX2
   if (Detail::useAvx2Fma())
      return logLoopAvx2(x, n);
#endif
   logLoop(x, n);
}
