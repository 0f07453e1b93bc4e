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

/// Per-process yield model:
/// `ν_p = N_p · μ_p · Σ_t xsec_pt m_t(θ) · Π_k I(ν_k; κ⁻_pk, κ⁺_pk) · Π_j F(code_j; ν_j; κ_jp)`,
/// with I the smooth exponential interpolation of the per-event shape nuisances, F the code-1/4
/// factors of the normalisation nuisances and μ_p the product of the process's rate modifiers.
struct YieldModel {
   std::size_t nProc = 0;           ///< processes
   std::size_t nT = 1;              ///< terms of the θ polynomial
   std::size_t nShape = 0;          ///< per-event shape nuisances
   std::vector<double> yields;      ///< N_p
   std::vector<double> xsec;        ///< nProc × nT, σ_pt/σ_p0
   std::vector<double> shapeUp;     ///< nProc × nShape, κ⁺ of the shape nuisances
   std::vector<double> shapeDown;   ///< nProc × nShape, κ⁻
   std::vector<double> normUp;      ///< nNorm × nProc
   std::vector<double> normDown;    ///< nNorm × nProc
   std::vector<int> normCode;       ///< per normalisation nuisance: 1 or 4
   std::vector<int> rateProcess;    ///< process index of each rate modifier

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

   /// μ_p: normalisation-systematic factors and rate modifiers of process p.
   double rateFactor(std::size_t p, const double *nuNorm, const double *rates) const
   {
      double f = 1.0;
      for (std::size_t k = 0; k < normCode.size(); ++k)
         f *= Math::normFactor(normCode[k], nuNorm[k], normUp[k * nProc + p], normDown[k * nProc + p]);
      for (std::size_t r = 0; r < rateProcess.size(); ++r) {
         if (static_cast<std::size_t>(rateProcess[r]) == p)
            f *= rates[r];
      }
      return f;
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
            gShape[k] += y * Math::expInterpLogDerivative(nuShape[k], shapeUp[p * nShape + k], shapeDown[p * nShape + k]);
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
      double f = 1.0;
      for (std::size_t k = 0; k < normCode.size(); ++k)
         f *= Math::normFactor(normCode[k], nuNorm[k], normUp[k * nProc + p], normDown[k * nProc + p]);
      for (std::size_t r = 0; r < rateProcess.size(); ++r) {
         if (r != skip && static_cast<std::size_t>(rateProcess[r]) == p)
            f *= rates[r];
      }
      return f;
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
