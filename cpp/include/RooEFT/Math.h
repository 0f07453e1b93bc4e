/// \file Math.h
/// \brief The formulas of rooeft in one place: free functions used by both the scalar
/// (`evaluate`) and the batched (`doEval`) code paths of every class, and by the Python tests.
#ifndef RooEFT_Math_h
#define RooEFT_Math_h

#include <cmath>
#include <cstddef>

namespace RooEFT {
namespace Math {

/// Number of terms of a quadratic polynomial in `n` coefficients: (n+1)(n+2)/2.
inline std::size_t nTerms(std::size_t n) { return (n + 1) * (n + 2) / 2; }

/// Fill `m` (size nTerms(n)) with the monomials [1, θ_a, θ_aθ_b (a ≤ b, row-major)].
inline void monomials(const double *theta, std::size_t n, double *m)
{
   std::size_t k = 0;
   m[k++] = 1.0;
   for (std::size_t a = 0; a < n; ++a)
      m[k++] = theta[a];
   for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = a; b < n; ++b)
         m[k++] = theta[a] * theta[b];
}

/// Dot product of `n` values.
inline double dot(const double *x, const double *y, std::size_t n)
{
   double s = 0.0;
   for (std::size_t i = 0; i < n; ++i)
      s += x[i] * y[i];
   return s;
}

/// Coefficients of the multiplicative code-4 interpolation (HistFactory "polynomial
/// interpolation, exponential extrapolation") of the factor f(α) with f(0)=1, f(1)=kUp,
/// f(-1)=kDown: for |α|<1, f(α) = 1 + Σ_{i=1..6} c[i-1] α^i with value, first and second
/// derivative matched to kUp^α at α=1 and kDown^-α at α=-1. Writes c[0..5]. Requires kUp, kDown > 0.
inline void code4MultCoefficients(double kUp, double kDown, double *c)
{
   const double lu = std::log(kUp), ld = std::log(kDown);
   // f, f', f'' of the exponential branches at α = +1 and α = -1
   const double fp = kUp, dfp = kUp * lu, ddfp = kUp * lu * lu;
   const double fm = kDown, dfm = -kDown * ld, ddfm = kDown * ld * ld;
   // even part E(α)=c2α²+c4α⁴+c6α⁶ and odd part O(α)=c1α+c3α³+c5α⁵ of f-1
   const double e0 = 0.5 * (fp + fm) - 1.0, e1 = 0.5 * (dfp - dfm), e2 = 0.5 * (ddfp + ddfm);
   const double o0 = 0.5 * (fp - fm), o1 = 0.5 * (dfp + dfm), o2 = 0.5 * (ddfp - ddfm);
   const double P = 0.5 * (e1 - 2.0 * e0), Q = (e2 - e1) / 8.0;
   const double c6 = Q - P, c4 = 3.0 * P - 2.0 * Q, c2 = e0 - 2.0 * P + Q;
   const double U = 0.5 * (o1 - o0), V = o2 / 6.0;
   const double c5 = 0.75 * (V - U), c3 = U - 2.0 * c5, c1 = o0 - c3 - c5;
   c[0] = c1;
   c[1] = c2;
   c[2] = c3;
   c[3] = c4;
   c[4] = c5;
   c[5] = c6;
}

/// Multiplicative code-4 factor from precomputed coefficients `c` (see code4MultCoefficients)
/// and the logarithms of kUp and kDown.
inline double code4MultFromCoefficients(double alpha, const double *c, double logUp, double logDown)
{
   if (alpha >= 1.0)
      return std::exp(alpha * logUp);
   if (alpha <= -1.0)
      return std::exp(-alpha * logDown);
   return 1.0 + alpha * (c[0] + alpha * (c[1] + alpha * (c[2] + alpha * (c[3] + alpha * (c[4] + alpha * c[5])))));
}

/// Multiplicative code-4 factor f(α) with f(0)=1, f(±1)=kUp/kDown (kUp, kDown > 0).
inline double code4Mult(double alpha, double kUp, double kDown)
{
   double c[6];
   code4MultCoefficients(kUp, kDown, c);
   return code4MultFromCoefficients(alpha, c, std::log(kUp), std::log(kDown));
}

/// Pure exponential (code 1) factor: kUp^α for α ≥ 0, kDown^-α for α < 0.
inline double code1Mult(double alpha, double kUp, double kDown)
{
   return alpha >= 0.0 ? std::pow(kUp, alpha) : std::pow(kDown, -alpha);
}

/// Additive code-4 shift (HistFactory shape interpolation) of a nominal value `nom` given the
/// up/down variations: linear for |α| ≥ 1, sixth-order polynomial inside, matching value, first
/// and second derivative at α = ±1. Returns the shift δ(α) (the varied value is nom + δ).
inline double code4Add(double alpha, double nom, double up, double down)
{
   const double epsUp = up - nom, epsDown = nom - down;
   if (alpha >= 1.0)
      return alpha * epsUp;
   if (alpha <= -1.0)
      return alpha * epsDown;
   const double S = 0.5 * (epsUp + epsDown);
   const double A = 0.0625 * (epsUp - epsDown);
   const double a2 = alpha * alpha;
   return alpha * S + a2 * A * (15.0 + a2 * (-10.0 + 3.0 * a2));
}

/// Normalisation factor of one normalisation systematic: code 1 (exponential) or 4 (polynomial
/// interpolation, exponential extrapolation).
inline double normFactor(int code, double alpha, double kUp, double kDown)
{
   return code == 1 ? code1Mult(alpha, kUp, kDown) : code4Mult(alpha, kUp, kDown);
}

/// Per-event ratio R(x|θ,ν) of one event from its cached row (see RooEFTUnbinnedPdf):
/// `row` holds, for each process p, `nT[p]` products π_p·r_{p,t} (t in canonical term order,
/// t=0 is π_p), followed, for each process p and shape nuisance k, by 8 numbers
/// (c1..c6 of code4MultCoefficients, log s⁺, log s⁻). `coef` holds, per process, the
/// per-call coefficients μ_p·m_t(θ); `nu` the shape nuisance values.
inline double eventRatio(const double *row, std::size_t nProc, const std::size_t *nT, const double *coef,
                         std::size_t nShape, const double *nu)
{
   const double *sys = row;
   for (std::size_t p = 0; p < nProc; ++p)
      sys += nT[p];
   double r = 0.0;
   const double *q = row;
   const double *c = coef;
   for (std::size_t p = 0; p < nProc; ++p) {
      double rp = dot(q, c, nT[p]);
      for (std::size_t k = 0; k < nShape; ++k, sys += 8)
         rp *= code4MultFromCoefficients(nu[k], sys, sys[6], sys[7]);
      r += rp;
      q += nT[p];
      c += nT[p];
   }
   return r;
}

} // namespace Math
} // namespace RooEFT

#endif
