/// \file RooEFTTemplatePdf.h
/// \class RooEFTTemplatePdf
/// \brief Binned EFT template pdf (DESIGN.md §1.5): per-bin yields
/// `n_b(θ,ν) = γ_b Σ_p μ_p(ν) [N_pb + Σ_k δ4(ν_k; N_pb, U_pkb, D_pkb)] (1 + Σ_a A_pb,a θ_a + Σ_{a≤b} B_pb,ab θ_aθ_b)`
/// with additive code-4 interpolation δ4 for shape systematics, code-4 (or exponential) factors
/// for normalisation systematics, optional free rate modifiers μ_p and optional
/// Barlow–Beeston-lite parameters γ_b (their constraint terms live outside, as in HistFactory).
/// The rate factor μ_p (normalisation systematics × rate modifiers) is RooEFT::rateFactor, the one
/// shared with the unbinned yield model (YieldModel.h) and the NLL kernel.
///
/// The value at x is `n_b/width_b` for the bin b containing x; the integral over x is analytic
/// (`Σ_b n_b`) and `expectedEvents() = Σ_b n_b`, so an extended fit to binned data is the product
/// of per-bin Poisson terms.
///
/// C++:
/// ~~~{.cpp}
/// RooRealVar x("x", "x", 0, 3); RooRealVar c("cHW", "cHW", 0, -1, 1);
/// RooEFTTemplatePdf pdf("pdf", "pdf", x, {0., 1., 2., 3.}, RooArgList(c));
/// pdf.addProcess("sig", {10., 5., 2.}, {1., .1, .01, 1., .2, .04, 1., .4, .16});
/// ~~~
/// Python:
/// ~~~{.py}
/// pdf = ROOT.RooEFTTemplatePdf("pdf", "pdf", x, [0., 1., 2., 3.], ROOT.RooArgList(c))
/// ~~~
#ifndef RooEFT_RooEFTTemplatePdf_h
#define RooEFT_RooEFTTemplatePdf_h

#include "RooEFT/YieldModel.h"

#include <RooAbsPdf.h>
#include <RooListProxy.h>
#include <RooRealProxy.h>

#include <memory>
#include <string>
#include <vector>

class RooRealVar;
namespace RooEFT {
class NLLKernel;
class HS3Access;
} // namespace RooEFT

class RooEFTTemplatePdf : public RooAbsPdf {
public:
   RooEFTTemplatePdf() = default;
   /// `edges`: nBins+1 increasing bin edges of `x`; `coefficients`: the Wilson coefficients.
   RooEFTTemplatePdf(const char *name, const char *title, RooRealVar &x, const std::vector<double> &edges,
                     const RooArgList &coefficients);
   RooEFTTemplatePdf(const RooEFTTemplatePdf &other, const char *name = nullptr);
   TObject *clone(const char *newname) const override { return new RooEFTTemplatePdf(*this, newname); }

   /// Add a process with nominal per-bin yields and, for an EFT process, the per-bin polynomial
   /// coefficients (nBins × nTerms, canonical order, each bin's first entry 1); empty = no EFT.
   void addProcess(const char *process, const std::vector<double> &nominal, const std::vector<double> &terms = {});
   /// Shape systematic on a process: per-bin up/down yields (additive code-4 interpolation).
   void addShapeSystematic(RooAbsReal &nuisance, const char *process, const std::vector<double> &up,
                           const std::vector<double> &down);
   /// Normalisation systematic on a process: κ⁺, κ⁻ with code 1 (exponential) or 4.
   void addNormSystematic(RooAbsReal &nuisance, const char *process, double kappaUp, double kappaDown, int code = 4);
   /// A free rate modifier μ for a process.
   void setRateModifier(const char *process, RooAbsReal &mu);
   /// Barlow–Beeston-lite: one multiplicative parameter per bin.
   void setBinParameters(const RooArgList &gammas);

   /// Name of the binned observable.
   const char *observableName() const { return _x.arg().GetName(); }
   std::size_t nBins() const { return _edges.empty() ? 0 : _edges.size() - 1; }
   std::size_t nProcesses() const { return _procNames.size(); }
   const std::vector<double> &edges() const { return _edges; }
   /// Expected events per bin at the current parameter values.
   std::vector<double> binYields() const;
   /// Expected events per bin of one process (before γ).
   std::vector<double> processBinYields(const char *process) const;
   /// Expected events of one process summed over the bins, with the Barlow–Beeston γ_b applied
   /// (so the processes add up to `expectedEvents()`); empty process name: all processes.
   double processYield(const char *process) const;

   ExtendMode extendMode() const override { return CanBeExtended; }
   double expectedEvents(const RooArgSet *nset) const override;
   using RooAbsPdf::expectedEvents;
   /// The expected-events function used by RooFit's vectorised (cpu) backend.
   std::unique_ptr<RooAbsReal> createExpectedEventsFunc(const RooArgSet *nset) const override;
   Int_t getAnalyticalIntegral(RooArgSet &allVars, RooArgSet &analVars, const char *rangeName = nullptr) const override;
   double analyticalIntegral(Int_t code, const char *rangeName = nullptr) const override;

protected:
   double evaluate() const override;
   void doEval(RooFit::EvalContext &ctx) const override;

private:
   friend class RooEFT::NLLKernel; // reads the templates (closed-form NLL)
   friend class RooEFT::HS3Access; // reads the templates for the HS3 JSON export (RooEFTJSONIO.cxx)
   /// Parameter values of one evaluation: θ, nuisances (`_nu` order), rate modifiers, γ_b.
   struct Values {
      std::vector<double> theta, nu, rates, gammas;
   };
   /// The values from the proxies (getVal, scalar paths) or from RooFit's evaluation context (doEval).
   Values currentValues() const;
   Values contextValues(RooFit::EvalContext &ctx) const;
   /// Normalisation effects and rate modifiers as a RooEFT::RateEffects view (sparse layout).
   RooEFT::RateEffects rateEffects() const;
   std::size_t processIndex(const char *process) const;
   std::size_t nuisanceIndex(RooAbsReal &nuisance);
   void addProcessYields(std::size_t p, const Values &v, std::vector<double> &yields) const;
   std::vector<double> binYields(const Values &v) const;
   std::size_t binOf(double x) const;

   RooRealProxy _x;      ///< the binned observable
   RooListProxy _theta;  ///< Wilson coefficients
   RooListProxy _nu;     ///< nuisance parameters (shape and normalisation)
   RooListProxy _rates;  ///< rate modifiers
   RooListProxy _gammas; ///< Barlow–Beeston-lite bin parameters (empty or nBins)
   std::vector<double> _edges;
   std::vector<std::string> _procNames;
   std::vector<double> _nominal; ///< nProc × nBins
   std::vector<double> _terms;   ///< nProc × nBins × nTerms
   std::vector<int> _hasEFT;     ///< per process
   std::vector<int> _shapeNu, _shapeProc;
   std::vector<double> _shapeUp, _shapeDown; ///< entries × nBins
   std::vector<int> _normNu, _normProc, _normCode;
   std::vector<double> _normUp, _normDown;
   std::vector<int> _rateProcess;

   ClassDefOverride(RooEFTTemplatePdf, 1)
};

#endif
