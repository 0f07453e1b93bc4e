/// \file YieldModel.h
/// \brief Expected yields ν_p(θ,ν) of the unbinned model from weighted-simulation sums
/// (DESIGN.md §1.4), shared by RooEFTUnbinnedPdf (normalisation) and RooEFTYield (its
/// expected-events function, whose servers are the parameters only).
#ifndef RooEFT_YieldModel_h
#define RooEFT_YieldModel_h

#include "RooEFT/Math.h"

#include <cstddef>
#include <vector>

namespace RooEFT {

/// The normalisation systematics and rate modifiers acting on the processes of a channel: a view
/// (no copy) of the owning object's persistent arrays, in one of two layouts.
///  - dense (YieldModel: unbinned pdf, RooEFTYield, NLL kernel): effect j has a κ per process at
///    `normUp/normDown[j * nProc + p]` (κ = 1 where it does not act) and `normProc` is null;
///  - sparse (RooEFTTemplatePdf): effect j acts on process `normProc[j]` only, with κ at `[j]`
///    (a nuisance acting on several processes is several effects).
/// Rate modifier r multiplies process `rateProcess[r]`.
struct RateEffects {
   std::size_t nProc = 0;
   std::size_t nNorm = 0;
   const int *normCode = nullptr;    ///< per effect: 1 (exponential) or 4 (Math::normFactor)
   const int *normProc = nullptr;    ///< per effect: its process (sparse), or null (dense)
   const double *normUp = nullptr;   ///< κ⁺ (layout above)
   const double *normDown = nullptr; ///< κ⁻ (layout above)
   std::size_t nRate = 0;
   const int *rateProcess = nullptr; ///< per rate modifier: its process
};

/// μ_p, the rate factor of process p: the product of the normalisation-systematic factors
/// `F(code_j; ν_j; κ⁺_jp, κ⁻_jp)` of the effects acting on p (in effect order) and of the rate
/// modifiers of p (in order). `nuNorm[j]` is the value of effect j's nuisance, `rates[r]` that of
/// rate modifier r. Rate modifier `skipRate` is left out (∂μ_p/∂rate_skip when it acts on p). The one
/// definition of μ_p for the unbinned and the binned models, their RooFit evaluation and the NLL kernel.
inline double rateFactor(const RateEffects &e, std::size_t p, const double *nuNorm, const double *rates,
                         std::size_t skipRate = static_cast<std::size_t>(-1))
{
   double f = 1.0;
   for (std::size_t j = 0; j < e.nNorm; ++j) {
      if (e.normProc) {
         if (static_cast<std::size_t>(e.normProc[j]) == p)
            f *= Math::normFactor(e.normCode[j], nuNorm[j], e.normUp[j], e.normDown[j]);
      } else {
         f *= Math::normFactor(e.normCode[j], nuNorm[j], e.normUp[j * e.nProc + p], e.normDown[j * e.nProc + p]);
      }
   }
   for (std::size_t r = 0; r < e.nRate; ++r) {
      if (r != skipRate && static_cast<std::size_t>(e.rateProcess[r]) == p)
         f *= rates[r];
   }
   return f;
}

/// Per-process yield model:
/// `ν_p = N_p · μ_p · Σ_t xsec_pt m_t(θ) · Π_k I(ν_k; κ⁻_pk, κ⁺_pk) · Π_j F(code_j; ν_j; κ_jp)`,
/// with I the smooth exponential interpolation of the per-event shape nuisances, F the code-1/4
/// factors of the normalisation nuisances and μ_p the product of the process's rate modifiers.
struct YieldModel {
   std::size_t nProc = 0;         ///< processes
   std::size_t nT = 1;            ///< terms of the θ polynomial
   std::size_t nShape = 0;        ///< per-event shape nuisances
   std::vector<double> yields;    ///< N_p
   std::vector<double> xsec;      ///< nProc × nT, σ_pt/σ_p0
   std::vector<double> shapeUp;   ///< nProc × nShape, κ⁺ of the shape nuisances
   std::vector<double> shapeDown; ///< nProc × nShape, κ⁻
   std::vector<double> normUp;    ///< nNorm × nProc
   std::vector<double> normDown;  ///< nNorm × nProc
   std::vector<int> normCode;     ///< per normalisation nuisance: 1 or 4
   std::vector<int> rateProcess;  ///< process index of each rate modifier

   void init(std::size_t processes, std::size_t terms, std::size_t shapes)
   {
      nProc = processes;
      nT = terms;
      nShape = shapes;
      yields.assign(nProc, 1.0);
      xsec.assign(nProc * nT, 0.0);
      for (std::size_t p = 0; p < nProc; ++p)
         xsec[p * nT] = 1.0;
      shapeUp.assign(nProc * nShape, 1.0);
      shapeDown.assign(nProc * nShape, 1.0);
   }

   /// The normalisation effects and rate modifiers as a RateEffects view (dense layout).
   RateEffects rateEffects() const
   {
      return {nProc,         normCode.size(), normCode.data(),    nullptr,
              normUp.data(), normDown.data(), rateProcess.size(), rateProcess.data()};
   }

   /// μ_p: normalisation-systematic factors and rate modifiers of process p (RooEFT::rateFactor).
   double rateFactor(std::size_t p, const double *nuNorm, const double *rates) const
   {
      return RooEFT::rateFactor(rateEffects(), p, nuNorm, rates);
   }

   /// ν_p given the monomials m_t(θ) and the parameter values.
   double processYield(std::size_t p, const double *m, const double *nuShape, const double *nuNorm,
                       const double *rates) const
   {
      double y = yields[p] * rateFactor(p, nuNorm, rates) * Math::dot(&xsec[p * nT], m, nT);
      for (std::size_t k = 0; k < nShape; ++k)
         y *= Math::expInterp(nuShape[k], shapeUp[p * nShape + k], shapeDown[p * nShape + k]);
      return y;
   }

   /// Σ_p ν_p.
   double totalYield(const double *m, const double *nuShape, const double *nuNorm, const double *rates) const
   {
      double total = 0.0;
      for (std::size_t p = 0; p < nProc; ++p)
         total += processYield(p, m, nuShape, nuNorm, rates);
      return total;
   }

   /// Σ_p ν_p and its gradient, *added* to `gTheta` (nC values; `dm` = ∂m_t/∂θ_a, nC × nT as
   /// Math::monomialGradient), `gShape` (nShape), `gNorm` (one per normalisation nuisance) and
   /// `gRate` (one per rate modifier). The closed form of the NLL kernel's yield term.
   double totalYieldGradient(const double *m, const double *dm, std::size_t nC, const double *nuShape,
                             const double *nuNorm, const double *rates, double *gTheta, double *gShape, double *gNorm,
                             double *gRate) const
   {
      double total = 0.0;
      for (std::size_t p = 0; p < nProc; ++p) {
         double shape = 1.0;
         for (std::size_t k = 0; k < nShape; ++k)
            shape *= Math::expInterp(nuShape[k], shapeUp[p * nShape + k], shapeDown[p * nShape + k]);
         const double pre = yields[p] * rateFactor(p, nuNorm, rates) * shape;
         const double y = pre * Math::dot(&xsec[p * nT], m, nT);
         total += y;
         for (std::size_t a = 0; a < nC; ++a)
            gTheta[a] += pre * Math::dot(&xsec[p * nT], dm + a * nT, nT);
         for (std::size_t k = 0; k < nShape; ++k)
            gShape[k] +=
               y * Math::expInterpLogDerivative(nuShape[k], shapeUp[p * nShape + k], shapeDown[p * nShape + k]);
         for (std::size_t j = 0; j < normCode.size(); ++j)
            gNorm[j] += y * Math::normFactorLogDerivative(normCode[j], nuNorm[j], normUp[j * nProc + p],
                                                          normDown[j * nProc + p]);
         for (std::size_t r = 0; r < rateProcess.size(); ++r) {
            if (static_cast<std::size_t>(rateProcess[r]) != p)
               continue;
            gRate[r] += yields[p] * rateFactorExcept(p, r, nuNorm, rates) * shape * Math::dot(&xsec[p * nT], m, nT);
         }
      }
      return total;
   }

   /// μ_p without rate modifier `skip` (∂μ_p/∂rate_skip when `skip` acts on p).
   double rateFactorExcept(std::size_t p, std::size_t skip, const double *nuNorm, const double *rates) const
   {
      return RooEFT::rateFactor(rateEffects(), p, nuNorm, rates, skip);
   }

   /// N_0 = Σ_p N_p (the nominal total).
   double nominalTotal() const
   {
      double n = 0.0;
      for (double y : yields)
         n += y;
      return n;
   }
};

} // namespace RooEFT

#endif
