/// \file NLLKernel.h
/// \class RooEFT::NLLKernel
/// \brief The negative log-likelihood of a rooeft workspace and its exact gradient, in closed form
/// over cached network outputs (DESIGN.md §2: networks once per event, θ and ν only through
/// closed forms).
///
/// The kernel holds, per channel, what the channel pdf holds (yield model, cached per-event
/// columns of the data and of the normalisation sample, or the binned templates) and evaluates
///
///   NLL(x) = Σ_unbinned [ν_tot − N ln ν_tot − Σ_i w_i ln R_i + N ln I]
///          + Σ_binned Σ_b [n_b − d_b ln n_b]
///          + Σ_constraints [(x_k − g_k)²/2σ_k² + ln σ_k√(2π) + ln(Φ((hi−x_k)/σ_k) − Φ((lo−x_k)/σ_k))]
///
/// with N = Σ_i w_i and I the pdf's normalisation integral. This is the likelihood RooFit builds
/// with `createNLL(data, Extended(), GlobalObservables(...))` from the same workspace, up to a
/// parameter-independent constant (the tests check this), so fits with the kernel and with
/// plain RooFit (or Combine) agree. The gradient is computed in the same pass over the events.
///
/// Numerics: every θ- and ν-dependent quantity is double precision (the cached network outputs
/// are float32 constants); events are processed in fixed blocks of kBlock, each block summed in
/// double, and the block sums are combined in block order with Kahan summation, so the result
/// does not depend on the number of threads. Threads (default: hardware concurrency, or
/// `ROOEFT_NUM_THREADS`) split the blocks of large channels.
///
/// Threads: inside one evaluation, each unbinned channel's pass over its events (and over its
/// normalisation sample) is cut into contiguous ranges of blocks, one std::thread per range,
/// created and joined within the call (at least 16 blocks per thread, so small channels stay on the
/// calling thread). A worker reads only the kernel's own copies of the channel (made by add*) and
/// the parameter vector, and writes only its blocks' partial sums; it never calls into a RooFit
/// object, a pdf or ONNX Runtime. Binned channels, constraints and the final reduction run on the
/// calling thread.
///
/// Threading contract: value()/valueAndGradient()/gradient()/hessian() are const and re-entrant:
/// several threads may evaluate one kernel at once (each call has its own workers and scratch; the
/// only shared mutable state is the atomic call counters). Configuration (add*, setThreads,
/// setConstant) is not thread-safe and must finish before evaluations start. addUnbinned runs the
/// pdf's network on the calling thread and touches the pdf's lazily built session and layout, so
/// it follows the pdf's contract (one thread per pdf at a time).
///
/// Caches: the kernel holds the network outputs of exactly the events given to addUnbinned and
/// the pdf's normalisation: its sample's cached columns (a pass per call), or, without per-event
/// shape systematics, only the sample's per-process, per-term sums (RooEFTUnbinnedPdf's cache
/// policy), which make the integral and its gradient O(processes × terms) per call. Nothing is
/// keyed or invalidated. Another dataset (a toy, an Asimov set) needs another kernel.
///
/// C++:
/// ~~~{.cpp}
/// RooEFT::NLLKernel k({"cHW", "lumi"});
/// k.addUnbinned(pdf, inputs, weights);           // runs the network once
/// k.addGaussianConstraint("lumi", 0., 1., -5., 5.);
/// std::vector<double> g(2);
/// double nll = k.valueAndGradient(std::vector<double>{0.1, 0.}.data(), g.data());
/// ~~~
/// Python:
/// ~~~{.py}
/// k = ROOT.RooEFT.NLLKernel(["cHW", "lumi"])
/// ~~~
#ifndef RooEFT_NLLKernel_h
#define RooEFT_NLLKernel_h

#include "RooEFT/YieldModel.h"

#include <Math/IFunction.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

class RooEFTUnbinnedPdf;
class RooEFTTemplatePdf;
namespace ROOT {
namespace Math {
class Minimizer;
}
} // namespace ROOT

class RooAbsCollection;

namespace RooEFT {

class NLLKernel {
public:
   /// Events per block: the unit of the deterministic reduction.
   static constexpr std::size_t kBlock = 1024;

   /// `parameters`: names of all parameters the NLL depends on (POIs, nuisances, rate modifiers);
   /// the order defines the parameter vector of value() and valueAndGradient().
   explicit NLLKernel(const std::vector<std::string> &parameters);
   ~NLLKernel();
   NLLKernel(const NLLKernel &) = delete;
   NLLKernel &operator=(const NLLKernel &) = delete;

   /// An unbinned channel: `inputs` holds n × d raw observable values (row-major, the pdf's
   /// observable order) and `weights` n event weights. The pdf's network runs once here on the
   /// events; events with non-finite outputs are an error (std::invalid_argument naming them).
   void addUnbinned(const RooEFTUnbinnedPdf &pdf, const std::vector<float> &inputs, const std::vector<double> &weights);
   /// A binned channel: observed counts per bin (size nBins).
   void addBinned(const RooEFTTemplatePdf &pdf, const std::vector<double> &counts);
   /// A Gaussian constraint of `parameter` with centre `mean` (the global observable) and width
   /// `sigma`, normalised over the global observable's range [lo, hi] as RooFit does (infinite
   /// bounds: untruncated).
   void addGaussianConstraint(const char *parameter, double mean, double sigma, double lo, double hi);

   /// A parameter-independent constant added to every value (to reproduce the absolute NLL of
   /// another implementation, e.g. RooFit's bin-width and category-normalisation terms).
   void setConstant(double c) { _constant = c; }
   double constant() const { return _constant; }

   /// Threads used inside one evaluation (≥ 1).
   void setThreads(unsigned n);
   unsigned threads() const { return _threads; }

   std::size_t nParameters() const { return _names.size(); }
   const std::vector<std::string> &parameters() const { return _names; }
   /// Index of a parameter name (throws std::invalid_argument if unknown).
   std::size_t index(const std::string &name) const;
   /// Events in all unbinned channels (data, not the normalisation samples).
   std::size_t nEvents() const;
   std::size_t nChannels() const;

   /// NLL at the parameter vector x (size nParameters()); NaN where a per-event ratio or a bin
   /// yield is not positive.
   double value(const double *x) const;
   /// NLL and its gradient (written to grad, size nParameters()) in one pass.
   double valueAndGradient(const double *x, double *grad) const;
   /// Hessian (row-major n × n) by central differences of the exact gradient, symmetrised: 2 gradient
   /// passes per parameter with a step `steps[j]` (a step of 0 leaves row and column j zero, e.g.
   /// for fixed parameters). Accurate to ~1e-8 relative where the gradient is exact, unlike
   /// second differences of NLL values (which lose precision when the NLL is ~1e7).
   void hessian(const double *x, const double *steps, double *h) const;
   std::vector<double> hessian(const std::vector<double> &x, const std::vector<double> &steps) const;
   /// Python-friendly forms.
   double value(const std::vector<double> &x) const { return value(x.data()); }
   std::vector<double> gradient(const std::vector<double> &x) const;

   /// Evaluations made so far (value-only and value+gradient).
   std::size_t valueCalls() const { return _valueCalls.load(); }
   std::size_t gradientCalls() const { return _gradCalls.load(); }
   void resetCounters() const;

private:
   struct Unbinned;
   struct Binned;
   struct Constraint {
      std::size_t index;
      double mean, sigma, lo, hi;
   };
   double evaluate(const double *x, double *grad) const;
   /// evaluate() on the parameters followed by the fixed slots (`grad` of the same length).
   double evaluateExtended(const double *x, double *grad) const;
   /// Indices of a pdf's rate modifiers: parameters by name, and a RooConstVar (e.g. the 0 of a
   /// masked process) as a fixed slot after the parameters (`_fixed`), which no gradient reaches.
   std::vector<std::size_t> rateIndices(const std::string &owner, const RooAbsCollection &list);
   double unbinnedTerm(const Unbinned &ch, const double *x, double *grad) const;
   double binnedTerm(const Binned &ch, const double *x, double *grad) const;

   std::vector<std::string> _names;
   std::vector<std::unique_ptr<Unbinned>> _unbinned;
   std::vector<std::unique_ptr<Binned>> _binned;
   std::vector<Constraint> _constraints;
   std::vector<double> _fixed; ///< values of the constant rate modifiers, slots nParameters() + k
   unsigned _threads = 1;
   double _constant = 0.0;
   mutable std::atomic<std::size_t> _valueCalls{0}; //!
   mutable std::atomic<std::size_t> _gradCalls{0};  //!
};

/// The kernel as a Minuit2 objective (ROOT::Math::IMultiGradFunction): value minus a constant
/// offset (so the minimiser sees O(1) numbers, as RooFit's `Offset` and Combine do) and the
/// exact gradient. Every evaluation computes value and gradient in one pass and keeps them, so a
/// gradient request at the last evaluated point costs nothing. That last point is unlocked mutable
/// state: one minimiser (one thread) per NLLFunction; Clone() gives an independent one on the same
/// kernel.
///
/// ~~~{.py}
/// fcn = ROOT.RooEFT.NLLFunction(kernel)
/// fcn.setOffset(kernel.value(x0))
/// m = ROOT.Math.Factory.CreateMinimizer("Minuit2", "Migrad"); m.SetFunction(fcn)
/// ~~~
class NLLFunction : public ROOT::Math::IMultiGradFunction {
public:
   explicit NLLFunction(const NLLKernel &kernel, double offset = 0.0);
   void setOffset(double offset) { _offset = offset; }
   double offset() const { return _offset; }
   unsigned int NDim() const override { return static_cast<unsigned int>(_kernel->nParameters()); }
   ROOT::Math::IMultiGenFunction *Clone() const override { return new NLLFunction(*_kernel, _offset); }
   void Gradient(const double *x, double *grad) const override;
   void FdF(const double *x, double &f, double *grad) const override;
   /// Objective evaluations requested by the minimiser (value or gradient at a new point).
   std::size_t passes() const { return _passes; }
   /// Give `minimizer` (Minuit2) the kernel's Hessian (NLLKernel::hessian with these per-parameter
   /// steps; 0 for fixed parameters), used by Hesse and by strategy 2 instead of second
   /// differences of function values. This object must outlive the minimisation.
   void attachHessian(ROOT::Math::Minimizer &minimizer, const std::vector<double> &steps);
   /// Give `minimizer` a fixed Hessian (row-major n × n, e.g. computed at a neighbouring scan
   /// point) for Migrad's seed: saves the 2n gradient passes of a fresh one where only a starting
   /// curvature is needed. Call attachHessian again before Hesse.
   void attachFixedHessian(ROOT::Math::Minimizer &minimizer, const std::vector<double> &hessian);

private:
   double DoEval(const double *x) const override;
   double DoDerivative(const double *x, unsigned int icoord) const override;
   void compute(const double *x) const;

   const NLLKernel *_kernel;
   double _offset;
   mutable std::vector<double> _x, _grad;
   mutable double _f = 0.0;
   mutable bool _valid = false;
   mutable std::size_t _passes = 0;
   std::vector<double> _hessSteps;
   std::vector<double> _fixedHess;
};

} // namespace RooEFT

#endif
