// Vectorised elementary functions. This translation unit alone is compiled with
// -ffast-math so that GCC maps the loop onto glibc's vector math library
// (libmvec, ≤ 4 ulp). Callers pass finite arguments (dot products of finite logarithms).
#include "RooEFT/Math.h"

#include <cmath>

void RooEFT::Math::expInPlace(double *x, std::size_t n)
{
   for (std::size_t i = 0; i < n; ++i)
      x[i] = std::exp(x[i]);
}

void RooEFT::Math::logInPlace(double *x, std::size_t n)
{
   for (std::size_t i = 0; i < n; ++i)
      x[i] = std::log(x[i]);
}
