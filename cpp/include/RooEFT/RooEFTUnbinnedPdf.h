/// \file RooEFTUnbinnedPdf.h
/// \class RooEFTUnbinnedPdf
/// \brief Extended unbinned EFT likelihood: the per-event ratio R(x|θ,ν) of DESIGN.md §1.3 from one
/// ONNX model in the rooeft convention (docs/onnx_convention.md), with analytic normalisation.
///
/// Value (unnormalised): `R(x|θ,ν) = Σ_p μ_p(ν) π_p(x) r_p(x|θ) Π_k I(ν_k; s⁻_pk(x), s⁺_pk(x))`,
/// with `r_p = 1 + Σ θ_a r_pa + Σ_{a≤b} θ_aθ_b r_pab` and `I` the smooth exponential interpolation
/// of RooEFT::Math::expInterp (so the product over k is one exponential per event and process).
/// The normalisation over the observables is a weighted sum over the normalisation sample (SM
/// simulation, setNormalisationSample): `∫ R dP_SM = Σ_j w_j R(x_j|θ,ν) / Σ_j w_j`, while
/// `expectedEvents() = ν_tot(θ,ν) = Σ_p N_p μ_p σ_p(θ)/σ_p(0) Π_k I(ν_k; κ⁻_pk, κ⁺_pk)` from
/// weighted-simulation sums. So `fitTo(data, Extended=True)` minimises
/// `ν_tot − Σ_i ln R(x_i) + N ln ∫ R dP_SM + const` (DESIGN.md §1.4, shape × rate) and no numerical
/// integral over x is ever done. Without a sample the integral is ν_tot/N_0 (exact for a perfect
/// network). The sum is factorised: R is linear in the term monomials m_t(θ) and in the rate
/// factors μ_p, so `Σ_j w_j R_j = Σ_p μ_p Σ_t m_t(θ) S_pt(ν)` with the per-process, per-term sums
/// `S_pt(ν) = Σ_j w_j π_p(x_j) r_pt(x_j) Π_k I(ν_k; s⁻_pk(x_j), s⁺_pk(x_j))` cached (below); an
/// evaluation costs O(processes × terms), and one pass over the sample when the shape nuisances ν
/// moved (never without per-event shape systematics).
///
/// The network is evaluated once per dataset (one batched ONNX Runtime call) and its outputs are
/// cached, so a minimiser step costs O(N × terms); changing θ or ν never re-runs it. A new
/// dataset (toys, Asimov) is recognised by its fingerprint and re-cached. For the legacy
/// (scalar) backend call `precompute(data)` first, or events are evaluated one by one on first use.
///
/// ### Cache policy
/// The cached network outputs (`_caches`) are shared by an object and all its clones (RooFit
/// clones the pdf when it builds a likelihood; the clone and the original see one cache).
///  - Batch cache (`doEval`, RooFit's vectorised backend): the outputs of the last 4 input batches,
///    most recently used first (least recently used dropped). Key, i.e. what identifies a cached
///    dataset: RooEFT::Detail::fingerprint of the observable columns RooFit passes = (number of
///    rows, the address of each column's buffer, a position-weighted sum of the values of every
///    max(1, n/64)-th row plus the last row, i.e. of about 64 rows spread over the batch). A new
///    dataset, toy or Asimov set has new buffers or new values there and runs the network once;
///    re-evaluating the same data at other θ, ν never does. Limit: a buffer overwritten in place
///    with values that agree on the sampled rows would be taken for the cached one; call
///    `clearCache()` after editing a dataset in place.
///  - Scalar cache (`evaluate`, `precompute`): one row of outputs per observable point, keyed by
///    the exact bit patterns of its observable values (as doubles); emptied wholesale before it
///    would exceed 4 million points.
///  - The normalisation sample's outputs (`_normCols`) are persistent, computed once in
///    setNormalisationSample, and never invalidated by parameter changes.
///  - Normalisation sums (`_normSums`, per object, copied to clones, transient): the S_pt above
///    for the last 8 keys, most recently used first. Key = the exact bit patterns of what enters
///    the sums non-linearly: the bounds of the integration range (none for the full sample; for a
///    named range its [min, max] per observable, so redefining a range is a new key) and the
///    values of the shape nuisances (none without per-event shape systematics, so the sums are
///    computed once). θ, the normalisation nuisances and the rate modifiers are never part of
///    it. Emptied by setNormalisationSample; rebuilt lazily after reading from a file.
/// Otherwise parameter values are never part of a key: θ, ν and rate modifiers enter only the
/// closed forms.
///
/// ### Threading contract
/// Lazily mutated state (all `mutable`, transient, created or changed inside const functions):
/// `_session` (the ONNX Runtime session, made from `_modelBytes` on first use, e.g. after reading
/// from a file), `_layout` (parsed from the model's metadata on first use, immutable afterwards),
/// `_caches` (above, shared with clones), `_normSums` (above, per object; also filled by
/// NLLKernel::addUnbinned), `_nCalls` (ONNX Runtime call counter, shared with clones) and
/// `_genCumulative` (event generation, set by the non-const initGenerator).
/// RooFit evaluates a pdf and its clones from one thread (the legacy and the vectorised backend
/// alike; RooFit's parallel likelihoods fork processes, each with its own copy), so none of this
/// state is locked: concurrent calls on one object, or on clones sharing its caches, are not
/// supported. For concurrent evaluation use independent objects (e.g. one workspace read per
/// thread) or RooEFT::NLLKernel: addUnbinned() runs the network once on the calling thread and
/// copies everything it needs (layout, yield model, cached columns, normalisation sample) into the
/// kernel, whose worker threads never touch the pdf.
///
/// C++:
/// ~~~{.cpp}
/// gSystem->Load("libRooEFT");
/// RooEFTUnbinnedPdf pdf("pdf", "pdf", "model.onnx", RooArgList(x1, x2), RooArgList(cHW), RooArgList());
/// pdf.setYield("sig", 1200.);
/// pdf.setCrossSection("sig", {1., 0.7, 0.3});
/// pdf.fitTo(data, RooFit::Extended(true));
/// ~~~
/// Python:
/// ~~~{.py}
/// ROOT = rooeft.load_library()
/// pdf = ROOT.RooEFTUnbinnedPdf("pdf", "pdf", "model.onnx", obs_list, coef_list, ROOT.RooArgList())
/// ~~~
#ifndef RooEFT_RooEFTUnbinnedPdf_h
#define RooEFT_RooEFTUnbinnedPdf_h

#include "RooEFT/YieldModel.h"

#include <RooAbsPdf.h>
#include <RooListProxy.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

class RooAbsData;
namespace RooEFT {
class ModelLayout;
class OnnxSession;
class NLLKernel;
class HS3Access;
} // namespace RooEFT

class RooEFTUnbinnedPdf : public RooAbsPdf {
public:
   RooEFTUnbinnedPdf() = default;
   /// Observables, coefficients and shape nuisances must match the model's metadata
   /// (`rooeft.observables`, `rooeft.coefficients`, `rooeft.systematics`) by name and order.
   RooEFTUnbinnedPdf(const char *name, const char *title, const char *onnxPath, const RooArgList &observables,
                     const RooArgList &coefficients, const RooArgList &shapeNuisances);
   RooEFTUnbinnedPdf(const char *name, const char *title, const std::vector<unsigned char> &modelBytes,
                     const RooArgList &observables, const RooArgList &coefficients, const RooArgList &shapeNuisances);
   RooEFTUnbinnedPdf(const RooEFTUnbinnedPdf &other, const char *name = nullptr);
   TObject *clone(const char *newname) const override { return new RooEFTUnbinnedPdf(*this, newname); }

   // --- configuration (each call validates its arguments and throws std::invalid_argument) ---
   /// Nominal (SM, ν=0) expected events of a process. Defaults: the model's `rooeft.nominal_rates`.
   void setYield(const char *process, double nominalEvents);
   /// Cross-section polynomial of a process relative to the SM: the per-term sums σ_t/σ_0 in
   /// canonical term order (first entry 1). Default: 1 (no θ dependence of the yield).
   void setCrossSection(const char *process, const std::vector<double> &termRatios);
   /// Yield effect of a shape nuisance on a process (κ⁺, κ⁻ = varied/nominal simulated yield).
   void setShapeNormEffect(const char *process, const char *nuisance, double kappaUp, double kappaDown);
   /// A normalisation systematic: one factor per process (κ = 1 where unaffected), code 1
   /// (exponential) or 4 (polynomial interpolation, exponential extrapolation).
   void addNormSystematic(RooAbsReal &nuisance, const std::vector<double> &kappaUp,
                          const std::vector<double> &kappaDown, int code = 4);
   /// A rate modifier μ multiplying the yield and the per-event term of a process (several per
   /// process multiply; a free μ, or a constrained one such as an MC-statistics γ).
   void setRateModifier(const char *process, RooAbsReal &mu);
   /// The shape normalisation: the integral of R over the SM density is taken over a weighted SM
   /// simulation sample, `∫ R dP_SM = Σ_j w_j R(x_j|θ,ν) / Σ_j w_j`, which is exact for the learned
   /// model (a network biased in its mean or in its per-event shape ratios normalises itself). The
   /// network runs once here on `inputs` (n rows of raw observables, row-major); the cached columns
   /// are stored in the object (persistent). An evaluation then costs O(processes × terms) from
   /// the cached per-term sums (see "Cache policy"), or one closed-form pass over the sample when
   /// the shape nuisances moved. Empty inputs and weights remove the sample. Without a sample the
   /// integral is ν_tot(θ,ν)/N_0 from the yield model (exact only for a perfect network).
   void setNormalisationSample(const std::vector<float> &inputs, const std::vector<double> &weights);
   std::size_t normalisationSampleSize() const { return _normWeights.size(); }
   /// For tests and benchmarks: `false` evaluates the integral over the normalisation sample event
   /// by event at every call (the reference the factorised sums are checked against), `true` (the
   /// default) uses the cached per-term sums. Not persistent; copied to clones and read by
   /// RooEFT::NLLKernel::addUnbinned.
   void setFactorisedNormalisation(bool on) { _factorised = on; }
   bool factorisedNormalisation() const { return _factorised; }

   // --- inspection ---
   const std::vector<std::string> &processes() const;
   /// Names of the observables (network inputs), in the model's order.
   const std::vector<std::string> &observableNames() const;
   std::size_t nTerms() const;
   const std::vector<unsigned char> &modelBytes() const { return _modelBytes; }
   /// Total expected events ν_tot(θ,ν) at the current parameter values.
   double expectedYield() const;
   /// Expected events of one process at the current parameter values.
   double processYield(const char *process) const;
   /// Number of ONNX Runtime calls made by this object and its clones (to verify caching).
   std::size_t networkCalls() const { return *_nCalls; }
   /// Number of cached rows (events) in all batch caches and the scalar cache.
   std::size_t cachedEvents() const;

   /// Run the network once on every event of `data` and cache the results for the scalar path.
   void precompute(const RooAbsData &data) const;
   /// Drop all cached network outputs.
   void clearCache() const;

   ExtendMode extendMode() const override { return CanBeExtended; }
   double expectedEvents(const RooArgSet *nset) const override;
   using RooAbsPdf::expectedEvents;
   /// The expected-events function used by RooFit's vectorised (cpu) backend.
   std::unique_ptr<RooAbsReal> createExpectedEventsFunc(const RooArgSet *nset) const override;
   /// Event generation resamples the normalisation sample (setNormalisationSample): event j is
   /// drawn with probability ∝ w_j R(x_j|θ,ν) at the current parameters, with replacement, and all
   /// observables are generated together. Without a normalisation sample (the pdf is a density
   /// *ratio* and holds no events), or for a subset of the observables, it throws
   /// std::logic_error instead of letting RooFit's accept-reject generator (TFoam) run on it.
   Int_t getGenerator(const RooArgSet &directVars, RooArgSet &generateVars, bool staticInitOK = true) const override;
   void initGenerator(Int_t code) override;
   void generateEvent(Int_t code) override;

   /// Ceilings checked when the model's metadata is read, before any RooFit object is made.
   static constexpr std::size_t kMaxObservables = 1000;
   static constexpr std::size_t kMaxOutputs = 100000;
   Int_t getAnalyticalIntegral(RooArgSet &allVars, RooArgSet &analVars, const char *rangeName = nullptr) const override;
   double analyticalIntegral(Int_t code, const char *rangeName = nullptr) const override;

protected:
   double evaluate() const override;
   void doEval(RooFit::EvalContext &ctx) const override;

private:
   using Layout = RooEFT::ModelLayout; ///< read once from the model's metadata (ModelLayout.h)
   struct CacheEntry {
      std::vector<std::uint64_t> key; ///< RooEFT::Detail::fingerprint of the observable columns
      std::size_t n = 0;
      std::vector<float> cols; ///< column-major: column j of event i at [j * n + i]
   };
   /// Cached network outputs; shared with clones (RooFit clones pdfs when it builds likelihoods).
   /// Not locked: see the threading contract in the class documentation.
   struct Caches {
      std::vector<CacheEntry> batch;                              ///< most recent first
      std::unordered_map<std::string, std::vector<float>> scalar; ///< keyed by observable values
   };
   /// Per-term sums over the normalisation sample for one key (see the cache policy).
   struct NormSums {
      std::vector<std::uint64_t> key; ///< bit patterns: range flag, range bounds, shape-nuisance values
      std::vector<double> sums;       ///< S_pt, per process procT[p] values
   };
   void init(const RooArgList &observables, const RooArgList &coefficients, const RooArgList &shapeNuisances);
   const RooEFT::OnnxSession &session() const;
   const Layout &layout() const;
   std::size_t processIndex(const char *process) const;
   void fillColumns(const float *net, std::size_t n, float *cols) const;
   double ratioOf(const float *row) const;
   /// ∫ R dP_SM over the normalisation sample, over all its events or those in a named range.
   double sampleIntegral(const char *rangeName = nullptr) const;
   /// w_j R(x_j|θ,ν) per normalisation-sample event at the current parameters.
   void sampleTerms(std::vector<double> &terms) const;
   /// Σ_j w_j R_j over the sample's events in [lo, hi] (empty: all), event by event (the reference).
   double samplePass(const std::vector<double> &lo, const std::vector<double> &hi) const;
   /// The sums S_pt (per process p, procT[p] terms each) over the sample's events in [lo, hi]
   /// (empty: all) at shape nuisances `nuShape`, from `_normSums` or computed in one pass.
   const std::vector<double> &normSums(const std::vector<double> &lo, const std::vector<double> &hi,
                                       const std::vector<double> &nuShape) const;
   /// Per-process coefficients μ_p·m_t(θ) of ratioBatch, at the current values (scalar paths) or
   /// at given values.
   void coefficients(std::vector<double> &coef) const;
   void coefficients(const std::vector<double> &m, const std::vector<double> &nuNorm, const std::vector<double> &rates,
                     std::vector<double> &coef) const;
   void systematicCoefficients(const double *nu, std::vector<double> &sysCoef) const;
   double rateFactor(std::size_t p) const;
   /// Current values: monomials of θ, shape nuisances, normalisation nuisances, rate modifiers,
   /// from the proxies (getVal: scalar paths and configuration) or from RooFit's evaluation
   /// context (ctx.at: doEval).
   void parameterValues(std::vector<double> &m, std::vector<double> &nuShape, std::vector<double> &nuNorm,
                        std::vector<double> &rates) const;
   void parameterValues(RooFit::EvalContext &ctx, std::vector<double> &m, std::vector<double> &nuShape,
                        std::vector<double> &nuNorm, std::vector<double> &rates) const;
   friend class RooEFTYield;
   friend class RooEFT::NLLKernel; // reads the layout, yield model and caches (closed-form NLL)
   friend class RooEFT::HS3Access; // reads the configuration for the HS3 JSON export (RooEFTJSONIO.cxx)

   RooListProxy _obs;                          ///< observables (network inputs), in the model's order
   RooListProxy _theta;                        ///< Wilson coefficients, in the model's order
   RooListProxy _nuShape;                      ///< shape nuisances with per-event ratios, in the model's order
   RooListProxy _nuNorm;                       ///< normalisation nuisances
   RooListProxy _rates;                        ///< free rate modifiers
   std::vector<unsigned char> _modelBytes;     ///< the ONNX model (persistent)
   RooEFT::YieldModel _ym;                     ///< yields, cross-section terms, normalisation effects
   std::vector<float> _normCols;               ///< normalisation sample: cached columns, column-major
   std::vector<double> _normWeights;           ///< normalisation sample: weights
   std::vector<float> _normInputs;             ///< normalisation sample: observables (n × d, row-major)
   mutable std::vector<double> _genCumulative; //! transient: cumulative w_j R_j for generation
   mutable std::vector<NormSums> _normSums;    //! transient: see the cache policy, most recent first
   bool _factorised = true;                    //! transient: setFactorisedNormalisation

   mutable std::shared_ptr<RooEFT::OnnxSession> _session;                           //! transient
   mutable std::shared_ptr<const Layout> _layout;                                   //! transient, from the metadata
   mutable std::shared_ptr<Caches> _caches = std::make_shared<Caches>();            //! shared with clones
   mutable std::shared_ptr<std::size_t> _nCalls = std::make_shared<std::size_t>(0); //! ONNX Runtime calls

   ClassDefOverride(RooEFTUnbinnedPdf, 5)
};

#endif
