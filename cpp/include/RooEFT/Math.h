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

/// Index of the monomial θ_aθ_b (a ≤ b < n) in the order of `monomials`:
/// 1 + n + Σ_{a'<a}(n − a') + (b − a). The linear term θ_a has index 1 + a.
inline std::size_t termIndex(std::size_t a, std::size_t b, std::size_t n)
{
   return 1 + n + a * n - a * (a - 1) / 2 + (b - a);
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

/// Quintic smooth step S(ν) = (15ν − 10ν³ + 3ν⁵)/8 for |ν| < 1, ±1 outside: S(±1) = ±1,
/// S'(±1) = S''(±1) = 0.
inline double smoothStep(double nu)
{
   if (nu >= 1.0)
      return 1.0;
   if (nu <= -1.0)
      return -1.0;
   const double n2 = nu * nu;
   return nu * (15.0 + n2 * (-10.0 + 3.0 * n2)) / 8.0;
}

/// Smooth exponential interpolation of a ratio with f(0) = 1, f(+1) = kUp, f(−1) = kDown:
/// `ln f(ν) = ν·A + ν·S(ν)·B` with `A = ½(ln kUp − ln kDown)`, `B = ½(ln kUp + ln kDown)`.
/// Exactly kUp^ν for ν ≥ 1 and kDown^−ν for ν ≤ −1, twice continuously differentiable, always
/// positive. ν enters only through (ν, ν·S(ν)), so a product over nuisances is one exponential
/// of a dot product with per-event (A, B): this is the per-event systematic factor of
/// RooEFTUnbinnedPdf.
inline double expInterp(double nu, double kUp, double kDown)
{
   const double lu = std::log(kUp), ld = std::log(kDown);
   return std::exp(nu * 0.5 * (lu - ld) + nu * smoothStep(nu) * 0.5 * (lu + ld));
}

// ---------------------------------------------------------------- derivatives (NLL kernel)

/// ∂m_t/∂θ_a of the monomials of `monomials`: `dm[a * nTerms(n) + t]` (nTerms(n) · n values).
inline void monomialGradient(const double *theta, std::size_t n, double *dm)
{
   const std::size_t nT = nTerms(n);
   for (std::size_t i = 0; i < n * nT; ++i)
      dm[i] = 0.0;
   for (std::size_t a = 0; a < n; ++a)
      dm[a * nT + 1 + a] = 1.0;
   std::size_t k = 1 + n;
   for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = a; b < n; ++b, ++k) {
         dm[a * nT + k] += theta[b];
         dm[b * nT + k] += theta[a];
      }
   }
}

/// S'(ν) of smoothStep: (15 − 30ν² + 15ν⁴)/8 inside |ν| < 1, 0 outside.
inline double smoothStepDerivative(double nu)
{
   if (nu >= 1.0 || nu <= -1.0)
      return 0.0;
   const double n2 = nu * nu;
   return 15.0 * (1.0 - n2) * (1.0 - n2) / 8.0;
}

/// d/dν of ν·S(ν) (the second per-event systematic coefficient).
inline double nuSmoothStepDerivative(double nu) { return smoothStep(nu) + nu * smoothStepDerivative(nu); }

/// d ln f/dν of expInterp.
inline double expInterpLogDerivative(double nu, double kUp, double kDown)
{
   const double lu = std::log(kUp), ld = std::log(kDown);
   return 0.5 * (lu - ld) + nuSmoothStepDerivative(nu) * 0.5 * (lu + ld);
}

/// d ln f/dα of the multiplicative code-4 factor (code4Mult).
inline double code4MultLogDerivative(double alpha, double kUp, double kDown)
{
   const double lu = std::log(kUp), ld = std::log(kDown);
   if (alpha >= 1.0)
      return lu;
   if (alpha <= -1.0)
      return -ld;
   double c[6];
   code4MultCoefficients(kUp, kDown, c);
   const double f = code4MultFromCoefficients(alpha, c, lu, ld);
   const double df =
      c[0] +
      alpha * (2.0 * c[1] + alpha * (3.0 * c[2] + alpha * (4.0 * c[3] + alpha * (5.0 * c[4] + alpha * 6.0 * c[5]))));
   return df / f;
}

/// d ln f/dα of the code-1 factor (code1Mult).
inline double code1MultLogDerivative(double alpha, double kUp, double kDown)
{
   return alpha >= 0.0 ? std::log(kUp) : -std::log(kDown);
}

/// d ln F/dα of normFactor.
inline double normFactorLogDerivative(int code, double alpha, double kUp, double kDown)
{
   return code == 1 ? code1MultLogDerivative(alpha, kUp, kDown) : code4MultLogDerivative(alpha, kUp, kDown);
}

/// dδ/dα of the additive code-4 shift code4Add.
inline double code4AddDerivative(double alpha, double nom, double up, double down)
{
   const double epsUp = up - nom, epsDown = nom - down;
   if (alpha >= 1.0)
      return epsUp;
   if (alpha <= -1.0)
      return epsDown;
   const double S = 0.5 * (epsUp + epsDown);
   const double A = 0.0625 * (epsUp - epsDown);
   const double a2 = alpha * alpha;
   return S + alpha * A * (30.0 + a2 * (-40.0 + 18.0 * a2));
}

/// Natural logarithm applied in place to `n` doubles (vectorised; own translation unit).
void logInPlace(double *x, std::size_t n);

/// exp applied in place to `n` doubles (vectorised; compiled in its own translation unit).
void expInPlace(double *x, std::size_t n);

/// The factors of one process for `n` events from its cached float columns `cols`
/// ([π, r_1 … r_T−1, A_1, B_1 … A_K, B_K], see ratioBatch): the polynomial
/// `P_i = coef_0 + Σ_{t≥1} coef_t r_t,i` into `P` and, if the process has shape nuisances
/// (`K2 = 2K > 0`), the systematic factor `E_i = exp(Σ_j sysCoef_j col_T+j,i)` into `E`
/// (untouched when K2 = 0, where E ≡ 1). The per-event ratio of the process is `π_i P_i E_i`.
/// Shared by ratioBatch (RooFit's evaluation) and the NLL kernel (value and gradient).
inline void processFactors(const float *const *cols, std::size_t n, std::size_t T, std::size_t K2, const double *coef,
                           const double *sysCoef, double *P, double *E)
{
   const double c0 = coef[0];
   for (std::size_t i = 0; i < n; ++i)
      P[i] = c0;
   for (std::size_t t = 1; t < T; ++t) {
      const float *col = cols[t];
      const double c = coef[t];
      for (std::size_t i = 0; i < n; ++i)
         P[i] += c * col[i];
   }
   if (K2 == 0)
      return;
   for (std::size_t i = 0; i < n; ++i)
      E[i] = 0.0;
   for (std::size_t j = 0; j < K2; ++j) {
      const float *col = cols[T + j];
      const double c = sysCoef[j];
      for (std::size_t i = 0; i < n; ++i)
         E[i] += c * col[i];
   }
   expInPlace(E, n);
}

/// Per-event ratios R(x|θ,ν) for `n` events from cached float columns (RooEFTUnbinnedPdf), the
/// one formula used by both the batch (`doEval`, n events) and the scalar (`evaluate`, n = 1)
/// paths. `cols` lists, for each process p, `nT[p]` columns [π_p, r_p,1 … r_p,nT−1] followed
/// by `2·nK[p]` columns [A_p,k, B_p,k] of its shape nuisances. `coef` holds per process the
/// per-call coefficients μ_p·m_t(θ) (nT[p] each), `sysCoef` the per-call (ν_k, ν_k·S(ν_k)):
///   R = Σ_p π_p (coef_p0 + Σ_t coef_pt r_pt) · exp(Σ_k ν_k A_pk + ν_k S(ν_k) B_pk).
/// `tmp` and `ex` are scratch arrays of n doubles.
inline void ratioBatch(const float *const *cols, std::size_t n, std::size_t nProc, const std::size_t *nT,
                       const std::size_t *nK, const double *coef, const double *sysCoef, double *out, double *tmp,
                       double *ex)
{
   for (std::size_t i = 0; i < n; ++i)
      out[i] = 0.0;
   for (std::size_t p = 0; p < nProc; ++p) {
      const std::size_t T = nT[p], K2 = 2 * nK[p];
      processFactors(cols, n, T, K2, coef, sysCoef, tmp, ex);
      const float *pi = cols[0];
      if (K2) {
         for (std::size_t i = 0; i < n; ++i)
            out[i] += pi[i] * tmp[i] * ex[i];
      } else {
         for (std::size_t i = 0; i < n; ++i)
            out[i] += pi[i] * tmp[i];
      }
      cols += T + K2;
      coef += T;
   }
}

} // namespace Math
} // namespace RooEFT

#endif
