#include "RooEFT/RooEFTUnbinnedPdf.h"

#include "ColumnPass.h"
#include "RooEFT/Detail.h"
#include "RooEFT/Math.h"
#include "RooEFT/ModelLayout.h"
#include "RooEFT/OnnxSession.h"
#include "RooEFT/RooEFTYield.h"

#include <RooAbsData.h>
#include <RooArgSet.h>
#include <RooFit/EvalContext.h>
#include <RooMsgService.h>
#include <RooRandom.h>
#include <RooRealVar.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace {
constexpr std::size_t kMaxBatchCaches = 4;
constexpr std::size_t kMaxScalarCache = 4000000;
constexpr std::size_t kMaxNormSums = 8;

std::string pdfName(const RooAbsArg *a) { return std::string("RooEFTUnbinnedPdf '") + a->GetName() + "': "; }

void checkNames(const RooAbsArg *self, const char *what, const RooArgList &given,
                const std::vector<std::string> &expected, const char *key)
{
   bool ok = static_cast<std::size_t>(given.size()) == expected.size();
   for (std::size_t i = 0; ok && i < expected.size(); ++i)
      ok = expected[i] == given[i].GetName();
   if (ok)
      return;
   std::string g, e;
   for (auto *a : given)
      g += std::string(g.empty() ? "" : ", ") + a->GetName();
   for (auto &s : expected)
      e += (e.empty() ? "" : ", ") + s;
   throw std::invalid_argument(pdfName(self) + "mismatched " + what + ": given [" + g + "] but the model's " + key +
                               " metadata lists [" + e + "] (names and order must match)");
}
} // namespace

RooEFTUnbinnedPdf::RooEFTUnbinnedPdf(const char *name, const char *title, const char *onnxPath,
                                     const RooArgList &observables, const RooArgList &coefficients,
                                     const RooArgList &shapeNuisances)
   : RooEFTUnbinnedPdf(name, title, RooEFT::OnnxSession::readFile(onnxPath), observables, coefficients, shapeNuisances)
{
}

RooEFTUnbinnedPdf::RooEFTUnbinnedPdf(const char *name, const char *title, const std::vector<unsigned char> &modelBytes,
                                     const RooArgList &observables, const RooArgList &coefficients,
                                     const RooArgList &shapeNuisances)
   : RooAbsPdf(name, title), _obs("obs", "observables", this), _theta("theta", "Wilson coefficients", this),
     _nuShape("nuShape", "shape nuisances", this), _nuNorm("nuNorm", "normalisation nuisances", this),
     _rates("rates", "rate modifiers", this), _modelBytes(modelBytes)
{
   init(observables, coefficients, shapeNuisances);
}

RooEFTUnbinnedPdf::RooEFTUnbinnedPdf(const RooEFTUnbinnedPdf &other, const char *name)
   : RooAbsPdf(other, name), _obs("obs", this, other._obs), _theta("theta", this, other._theta),
     _nuShape("nuShape", this, other._nuShape), _nuNorm("nuNorm", this, other._nuNorm),
     _rates("rates", this, other._rates), _modelBytes(other._modelBytes), _ym(other._ym), _normCols(other._normCols),
     _normWeights(other._normWeights), _normInputs(other._normInputs), _normSums(other._normSums),
     _factorised(other._factorised), _session(other._session), _layout(other._layout), _caches(other._caches),
     _nCalls(other._nCalls)
{
}

void RooEFTUnbinnedPdf::init(const RooArgList &observables, const RooArgList &coefficients,
                             const RooArgList &shapeNuisances)
{
   const Layout &L = layout();
   checkNames(this, "observables", observables, L.observables, "rooeft.observables");
   checkNames(this, "coefficients", coefficients, L.coefficients, "rooeft.coefficients");
   checkNames(this, "shape nuisances", shapeNuisances, L.systematics, "rooeft.systematics");
   for (auto *a : observables) {
      if (!dynamic_cast<RooRealVar *>(a))
         throw std::invalid_argument(pdfName(this) + "observable '" + a->GetName() + "' must be a RooRealVar");
   }
   for (const RooArgList *l : {&coefficients, &shapeNuisances}) {
      for (auto *a : *l) {
         if (!dynamic_cast<RooAbsReal *>(a))
            throw std::invalid_argument(pdfName(this) + "parameter '" + a->GetName() + "' is not a RooAbsReal");
      }
   }
   _obs.add(observables);
   _theta.add(coefficients);
   _nuShape.add(shapeNuisances);
   _ym.init(L.processes.size(), L.nT, L.systematics.size());
   for (auto &[proc, rate] : L.nominalRates) {
      auto it = std::find(L.processes.begin(), L.processes.end(), proc);
      if (it != L.processes.end())
         _ym.yields[it - L.processes.begin()] = rate;
   }
}

const RooEFT::OnnxSession &RooEFTUnbinnedPdf::session() const
{
   if (!_session)
      _session = std::make_shared<RooEFT::OnnxSession>(_modelBytes);
   return *_session;
}

const RooEFTUnbinnedPdf::Layout &RooEFTUnbinnedPdf::layout() const
{
   if (_layout)
      return *_layout;
   const auto &s = session();
   if (s.nInputs() > kMaxObservables || s.nOutputs() > kMaxOutputs)
      throw std::invalid_argument(pdfName(this) + "the model has " + std::to_string(s.nInputs()) + " inputs and " +
                                  std::to_string(s.nOutputs()) + " outputs; at most " +
                                  std::to_string(kMaxObservables) + " inputs and " + std::to_string(kMaxOutputs) +
                                  " outputs are supported");
   auto L = std::make_shared<Layout>(s);
   L->checkUnbinned(pdfName(this));
   _layout = L;
   return *_layout;
}

std::size_t RooEFTUnbinnedPdf::processIndex(const char *process) const
{
   const auto &procs = layout().processes;
   auto it = std::find(procs.begin(), procs.end(), std::string(process));
   if (it == procs.end()) {
      std::string all;
      for (auto &p : procs)
         all += (all.empty() ? "" : ", ") + p;
      throw std::invalid_argument(pdfName(this) + "unknown process '" + process + "' (the model has: " + all + ")");
   }
   return static_cast<std::size_t>(it - procs.begin());
}

const std::vector<std::string> &RooEFTUnbinnedPdf::processes() const { return layout().processes; }
const std::vector<std::string> &RooEFTUnbinnedPdf::observableNames() const { return layout().observables; }
std::size_t RooEFTUnbinnedPdf::nTerms() const { return layout().nT; }

void RooEFTUnbinnedPdf::setYield(const char *process, double nominalEvents)
{
   if (!(nominalEvents >= 0.0) || !std::isfinite(nominalEvents))
      throw std::invalid_argument(pdfName(this) + "yield of '" + process + "' must be finite and >= 0, got " +
                                  std::to_string(nominalEvents));
   _ym.yields[processIndex(process)] = nominalEvents;
   setValueDirty();
}

void RooEFTUnbinnedPdf::setCrossSection(const char *process, const std::vector<double> &termRatios)
{
   const std::size_t p = processIndex(process), nT = layout().nT;
   if (termRatios.size() != nT)
      throw std::invalid_argument(pdfName(this) + "cross-section of '" + process + "' needs " + std::to_string(nT) +
                                  " term ratios (canonical order), got " + std::to_string(termRatios.size()));
   for (double v : termRatios) {
      if (!std::isfinite(v))
         throw std::invalid_argument(pdfName(this) + "cross-section of '" + process + "' has a non-finite term");
   }
   if (std::abs(termRatios[0] - 1.0) > 1e-9)
      throw std::invalid_argument(pdfName(this) + "cross-section term ratios of '" + process +
                                  "' must start with 1 (σ_0/σ_0), got " + std::to_string(termRatios[0]));
   std::copy(termRatios.begin(), termRatios.end(), _ym.xsec.begin() + p * nT);
   setValueDirty();
}

void RooEFTUnbinnedPdf::setShapeNormEffect(const char *process, const char *nuisance, double kappaUp, double kappaDown)
{
   const std::size_t p = processIndex(process);
   const auto &syst = layout().systematics;
   auto it = std::find(syst.begin(), syst.end(), std::string(nuisance));
   if (it == syst.end())
      throw std::invalid_argument(pdfName(this) + "unknown shape nuisance '" + nuisance + "'");
   if (!(kappaUp > 0) || !(kappaDown > 0) || !std::isfinite(kappaUp) || !std::isfinite(kappaDown))
      throw std::invalid_argument(pdfName(this) + "yield effects of '" + nuisance + "' on '" + process +
                                  "' must be finite and > 0");
   const std::size_t k = it - syst.begin(), nS = syst.size();
   _ym.shapeUp[p * nS + k] = kappaUp;
   _ym.shapeDown[p * nS + k] = kappaDown;
   setValueDirty();
}

void RooEFTUnbinnedPdf::addNormSystematic(RooAbsReal &nuisance, const std::vector<double> &kappaUp,
                                          const std::vector<double> &kappaDown, int code)
{
   const std::size_t nP = layout().processes.size();
   if (kappaUp.size() != nP || kappaDown.size() != nP)
      throw std::invalid_argument(pdfName(this) + "normalisation systematic '" + nuisance.GetName() + "' needs " +
                                  std::to_string(nP) + " κ values per direction (one per process)");
   for (std::size_t p = 0; p < nP; ++p) {
      if (!(kappaUp[p] > 0) || !(kappaDown[p] > 0) || !std::isfinite(kappaUp[p]) || !std::isfinite(kappaDown[p]))
         throw std::invalid_argument(pdfName(this) + "normalisation systematic '" + nuisance.GetName() +
                                     "': κ must be finite and > 0");
   }
   if (code != 1 && code != 4)
      throw std::invalid_argument(pdfName(this) + "interpolation code must be 1 or 4, got " + std::to_string(code));
   if (_nuNorm.find(nuisance.GetName()) || _nuShape.find(nuisance.GetName()))
      throw std::invalid_argument(pdfName(this) + "nuisance '" + nuisance.GetName() + "' is already used");
   _nuNorm.add(nuisance);
   _ym.normUp.insert(_ym.normUp.end(), kappaUp.begin(), kappaUp.end());
   _ym.normDown.insert(_ym.normDown.end(), kappaDown.begin(), kappaDown.end());
   _ym.normCode.push_back(code);
   setValueDirty();
}

void RooEFTUnbinnedPdf::setRateModifier(const char *process, RooAbsReal &mu)
{
   const int p = static_cast<int>(processIndex(process));
   for (std::size_t r = 0; r < _ym.rateProcess.size(); ++r) {
      if (_ym.rateProcess[r] == p && _rates.at(r) == &mu)
         throw std::invalid_argument(pdfName(this) + "process '" + process + "' already has the rate modifier '" +
                                     mu.GetName() + "'");
   }
   _rates.add(mu);
   _ym.rateProcess.push_back(p);
   setValueDirty();
}

void RooEFTUnbinnedPdf::parameterValues(std::vector<double> &m, std::vector<double> &nuShape,
                                        std::vector<double> &nuNorm, std::vector<double> &rates) const
{
   auto values = [](const RooListProxy &list, std::vector<double> &out) {
      out.resize(list.size());
      for (std::size_t i = 0; i < out.size(); ++i)
         out[i] = static_cast<const RooAbsReal &>(list[i]).getVal();
   };
   std::vector<double> theta;
   values(_theta, theta);
   m.resize(RooEFT::Math::nTerms(theta.size()));
   RooEFT::Math::monomials(theta.data(), theta.size(), m.data());
   values(_nuShape, nuShape);
   values(_nuNorm, nuNorm);
   values(_rates, rates);
}

void RooEFTUnbinnedPdf::parameterValues(RooFit::EvalContext &ctx, std::vector<double> &m, std::vector<double> &nuShape,
                                        std::vector<double> &nuNorm, std::vector<double> &rates) const
{
   auto values = [&ctx](const RooListProxy &list, std::vector<double> &out) {
      out.resize(list.size());
      for (std::size_t i = 0; i < out.size(); ++i)
         out[i] = ctx.at(&list[i])[0];
   };
   std::vector<double> theta;
   values(_theta, theta);
   m.resize(RooEFT::Math::nTerms(theta.size()));
   RooEFT::Math::monomials(theta.data(), theta.size(), m.data());
   values(_nuShape, nuShape);
   values(_nuNorm, nuNorm);
   values(_rates, rates);
}

void RooEFTUnbinnedPdf::setNormalisationSample(const std::vector<float> &inputs, const std::vector<double> &weights)
{
   const Layout &L = layout();
   const std::size_t d = _obs.size(), n = weights.size();
   _normSums.clear();
   if (inputs.empty() && weights.empty()) {
      _normCols.clear();
      _normWeights.clear();
      _normInputs.clear();
      setValueDirty();
      return;
   }
   if (inputs.size() != n * d)
      throw std::invalid_argument(pdfName(this) + "normalisation sample: " + std::to_string(inputs.size()) +
                                  " input values for " + std::to_string(n) + " weights and " + std::to_string(d) +
                                  " observables");
   double total = 0.0;
   for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(weights[i]))
         throw std::invalid_argument(pdfName(this) + "normalisation sample: weight " + std::to_string(i) +
                                     " is not finite");
      total += weights[i];
   }
   if (!(total > 0))
      throw std::invalid_argument(pdfName(this) + "normalisation sample: the weights sum to " + std::to_string(total) +
                                  ", must be positive");
   std::vector<float> net(n * L.outputs.size());
   session().run(inputs.data(), n, net.data());
   ++*_nCalls;
   _normCols.assign(n * L.rowWidth, 0.0f);
   fillColumns(net.data(), n, _normCols.data());
   _normWeights = weights;
   _normInputs = inputs;
   for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(_normCols[i])) { // an event with non-finite network outputs: left out
         _normWeights[i] = 0.0;       // (all its columns 0, so that 0 · NaN never enters a sum)
         for (std::size_t j = 0; j < L.rowWidth; ++j)
            _normCols[j * n + i] = 0.0f;
      }
   }
   double kept = 0.0;
   for (double w : _normWeights)
      kept += w;
   for (double &w : _normWeights)
      w /= kept;
   setValueDirty();
}

void RooEFTUnbinnedPdf::sampleTerms(std::vector<double> &terms) const
{
   const Layout &L = layout();
   const std::size_t n = _normWeights.size();
   std::vector<double> coef, sysCoef, nu(_nuShape.size());
   coefficients(coef);
   for (std::size_t k = 0; k < nu.size(); ++k)
      nu[k] = static_cast<const RooAbsReal &>(_nuShape[k]).getVal();
   systematicCoefficients(nu.data(), sysCoef);
   constexpr std::size_t kBlock = 2048;
   std::vector<double> tmp(kBlock), ex(kBlock);
   std::vector<const float *> cols(L.rowWidth);
   terms.resize(n);
   for (std::size_t first = 0; first < n; first += kBlock) {
      const std::size_t m = std::min(kBlock, n - first);
      for (std::size_t j = 0; j < cols.size(); ++j)
         cols[j] = _normCols.data() + j * n + first;
      RooEFT::Math::ratioBatch(cols.data(), m, L.processes.size(), L.procT.data(), L.procK.data(), coef.data(),
                               sysCoef.data(), terms.data() + first, tmp.data(), ex.data());
      for (std::size_t i = 0; i < m; ++i)
         terms[first + i] *= _normWeights[first + i];
   }
}

double RooEFTUnbinnedPdf::sampleIntegral(const char *rangeName) const
{
   const std::size_t d = _obs.size();
   std::vector<double> lo, hi;
   if (rangeName && *rangeName) {
      for (std::size_t k = 0; k < d; ++k) {
         const auto &v = static_cast<const RooRealVar &>(_obs[k]);
         lo.push_back(v.getMin(rangeName));
         hi.push_back(v.getMax(rangeName));
      }
   }
   if (!_factorised)
      return samplePass(lo, hi);
   const Layout &L = layout();
   std::vector<double> m, nuShape, nuNorm, rates;
   parameterValues(m, nuShape, nuNorm, rates);
   const std::vector<double> &S = normSums(lo, hi, nuShape);
   double sum = 0.0;
   for (std::size_t p = 0, j = 0; p < L.processes.size(); ++p) {
      double sp = 0.0;
      for (std::size_t t = 0; t < L.procT[p]; ++t)
         sp += m[t] * S[j++];
      sum += _ym.rateFactor(p, nuNorm.data(), rates.data()) * sp;
   }
   return sum;
}

double RooEFTUnbinnedPdf::samplePass(const std::vector<double> &lo, const std::vector<double> &hi) const
{
   std::vector<double> terms;
   sampleTerms(terms);
   const std::size_t d = _obs.size();
   RooEFT::Detail::KahanSum sum;
   for (std::size_t j = 0; j < terms.size(); ++j) {
      bool in = true;
      for (std::size_t k = 0; k < lo.size() && in; ++k) {
         const double x = _normInputs[j * d + k];
         in = x >= lo[k] && x <= hi[k];
      }
      if (in)
         sum.add(terms[j]);
   }
   return sum.sum;
}

const std::vector<double> &RooEFTUnbinnedPdf::normSums(const std::vector<double> &lo, const std::vector<double> &hi,
                                                       const std::vector<double> &nuShape) const
{
   std::vector<std::uint64_t> key;
   auto put = [&key](double v) {
      std::uint64_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      key.push_back(bits);
   };
   key.push_back(lo.empty() ? 0 : 1);
   for (std::size_t k = 0; k < lo.size(); ++k) {
      put(lo[k]);
      put(hi[k]);
   }
   const Layout &L = layout();
   if (std::any_of(L.procK.begin(), L.procK.end(), [](std::size_t k) { return k > 0; })) {
      for (double v : nuShape)
         put(v);
   }
   auto hit = std::find_if(_normSums.begin(), _normSums.end(), [&](const NormSums &e) { return e.key == key; });
   if (hit != _normSums.end()) {
      std::rotate(_normSums.begin(), hit, hit + 1);
      return _normSums.front().sums;
   }

   // one pass (the NLL kernel's) over the sample's events, weight 0 outside the range
   const std::size_t n = _normWeights.size(), d = _obs.size();
   std::vector<double> w = _normWeights, sysCoef;
   for (std::size_t j = 0; !lo.empty() && j < n; ++j) {
      for (std::size_t k = 0; k < d; ++k) {
         const double x = _normInputs[j * d + k];
         if (!(x >= lo[k] && x <= hi[k])) {
            w[j] = 0.0;
            break;
         }
      }
   }
   systematicCoefficients(nuShape.data(), sysCoef);
   NormSums e{std::move(key), RooEFT::Detail::termSums(L.procT, L.procK, L.rowWidth, _normCols, n, w, sysCoef.data())};
   if (_normSums.size() >= kMaxNormSums)
      _normSums.pop_back();
   _normSums.insert(_normSums.begin(), std::move(e));
   return _normSums.front().sums;
}

double RooEFTUnbinnedPdf::rateFactor(std::size_t p) const
{
   std::vector<double> m, nuShape, nuNorm, rates;
   parameterValues(m, nuShape, nuNorm, rates);
   return _ym.rateFactor(p, nuNorm.data(), rates.data());
}

void RooEFTUnbinnedPdf::coefficients(std::vector<double> &coef) const
{
   std::vector<double> m, nuShape, nuNorm, rates;
   parameterValues(m, nuShape, nuNorm, rates);
   coefficients(m, nuNorm, rates, coef);
}

void RooEFTUnbinnedPdf::coefficients(const std::vector<double> &m, const std::vector<double> &nuNorm,
                                     const std::vector<double> &rates, std::vector<double> &coef) const
{
   const Layout &L = layout();
   coef.clear();
   for (std::size_t p = 0; p < L.processes.size(); ++p) {
      const double mu = _ym.rateFactor(p, nuNorm.data(), rates.data());
      for (std::size_t t = 0; t < L.procT[p]; ++t)
         coef.push_back(mu * m[t]);
   }
}

void RooEFTUnbinnedPdf::systematicCoefficients(const double *nu, std::vector<double> &sysCoef) const
{
   const std::size_t nS = _nuShape.size();
   sysCoef.resize(2 * nS);
   for (std::size_t k = 0; k < nS; ++k) {
      sysCoef[2 * k] = nu[k];
      sysCoef[2 * k + 1] = nu[k] * RooEFT::Math::smoothStep(nu[k]);
   }
}

double RooEFTUnbinnedPdf::processYield(const char *process) const
{
   const std::size_t p = processIndex(process);
   std::vector<double> m, nuShape, nuNorm, rates;
   parameterValues(m, nuShape, nuNorm, rates);
   return _ym.processYield(p, m.data(), nuShape.data(), nuNorm.data(), rates.data());
}

double RooEFTUnbinnedPdf::expectedYield() const
{
   std::vector<double> m, nuShape, nuNorm, rates;
   parameterValues(m, nuShape, nuNorm, rates);
   return _ym.totalYield(m.data(), nuShape.data(), nuNorm.data(), rates.data());
}

double RooEFTUnbinnedPdf::expectedEvents(const RooArgSet * /*nset*/) const { return expectedYield(); }

Int_t RooEFTUnbinnedPdf::getAnalyticalIntegral(RooArgSet &allVars, RooArgSet &analVars, const char *rangeName) const
{
   // a named range: exact over the normalisation sample (its events inside the range), otherwise
   // not analytic (RooFit then integrates numerically, correct but slow)
   const bool ranged = rangeName && *rangeName;
   if (ranged && (_normInputs.empty() || _normInputs.size() != _normWeights.size() * _obs.size()))
      return 0;
   RooArgSet obs(_obs);
   if (matchArgs(allVars, analVars, obs))
      return ranged ? 2 : 1;
   return 0;
}

double RooEFTUnbinnedPdf::analyticalIntegral(Int_t code, const char *rangeName) const
{
   if (code == 2)
      return sampleIntegral(rangeName);
   if (code != 1)
      throw std::logic_error(pdfName(this) + "unknown integration code " + std::to_string(code));
   if (!_normWeights.empty())
      return sampleIntegral();
   return expectedYield() / _ym.nominalTotal();
}

void RooEFTUnbinnedPdf::fillColumns(const float *net, std::size_t n, float *cols) const
{
   const Layout &L = layout();
   const std::size_t nP = L.processes.size(), nS = L.systematics.size(), nOut = L.outputs.size();
   std::size_t nBad = 0, firstBad = 0;
   for (std::size_t i = 0; i < n; ++i) {
      const float *o = net + i * nOut;
      auto at = [&](std::size_t j) -> float & { return cols[j * n + i]; };
      std::size_t j = 0;
      bool bad = false;
      for (std::size_t p = 0; p < nP; ++p) {
         at(j) = L.fracCol[p] >= 0 ? o[L.fracCol[p]] : 1.0f;
         bad = bad || !std::isfinite(at(j));
         for (std::size_t t = 1; t < L.procT[p]; ++t) {
            const int c = L.termCol[p * L.nT + t];
            at(j + t) = c >= 0 ? o[c] : 0.0f;
            bad = bad || !std::isfinite(at(j + t));
         }
         j += L.procT[p];
         for (std::size_t k = 0; k < L.procK[p]; ++k, j += 2) {
            const int cu = L.upCol[p * nS + k], cd = L.downCol[p * nS + k];
            const double up = cu >= 0 ? o[cu] : 1.0, down = cd >= 0 ? o[cd] : 1.0;
            if (!(up > 0) || !(down > 0) || !std::isfinite(up) || !std::isfinite(down)) {
               bad = true;
               at(j) = at(j + 1) = 0.0f;
               continue;
            }
            const double lu = std::log(up), ld = std::log(down);
            at(j) = static_cast<float>(0.5 * (lu - ld));
            at(j + 1) = static_cast<float>(0.5 * (lu + ld));
         }
      }
      if (bad) {
         if (nBad++ == 0)
            firstBad = i;
         at(0) = std::numeric_limits<float>::quiet_NaN();
      }
   }
   if (nBad > 0) {
      coutE(Eval) << pdfName(this) << nBad << " of " << n << " events have non-finite network outputs or "
                  << "non-positive systematic ratios (first: event " << firstBad
                  << "); their ratio is NaN and the likelihood reports it as an evaluation error" << std::endl;
   }
}

double RooEFTUnbinnedPdf::ratioOf(const float *row) const
{
   const Layout &L = layout();
   std::vector<double> coef, sysCoef, nu(_nuShape.size());
   coefficients(coef);
   for (std::size_t k = 0; k < nu.size(); ++k)
      nu[k] = static_cast<const RooAbsReal &>(_nuShape[k]).getVal();
   systematicCoefficients(nu.data(), sysCoef);
   std::vector<const float *> cols(L.rowWidth);
   for (std::size_t j = 0; j < cols.size(); ++j)
      cols[j] = row + j;
   double r, tmp, ex;
   RooEFT::Math::ratioBatch(cols.data(), 1, L.processes.size(), L.procT.data(), L.procK.data(), coef.data(),
                            sysCoef.data(), &r, &tmp, &ex);
   return r;
}

double RooEFTUnbinnedPdf::evaluate() const
{
   const Layout &L = layout();
   std::string key(_obs.size() * sizeof(double), '\0');
   std::vector<float> in(_obs.size());
   for (std::size_t j = 0; j < _obs.size(); ++j) {
      const double v = static_cast<const RooAbsReal &>(_obs[j]).getVal();
      std::memcpy(&key[j * sizeof(double)], &v, sizeof(double));
      in[j] = static_cast<float>(v);
   }
   auto it = _caches->scalar.find(key);
   if (it == _caches->scalar.end()) {
      std::vector<float> net(L.outputs.size());
      session().run(in.data(), 1, net.data());
      ++*_nCalls;
      std::vector<float> row(L.rowWidth);
      fillColumns(net.data(), 1, row.data());
      if (_caches->scalar.size() >= kMaxScalarCache)
         _caches->scalar.clear();
      it = _caches->scalar.emplace(std::move(key), std::move(row)).first;
   }
   const double r = ratioOf(it->second.data());
   if (!(r > 0))
      logEvalError(std::isnan(r) ? "per-event ratio R is not finite" : "per-event ratio R <= 0");
   return r;
}

void RooEFTUnbinnedPdf::doEval(RooFit::EvalContext &ctx) const
{
   const Layout &L = layout();
   std::vector<std::span<const double>> obs;
   std::size_t n = 1;
   for (RooAbsArg *arg : _obs) {
      obs.push_back(ctx.at(static_cast<RooAbsReal *>(arg)));
      n = std::max(n, obs.back().size());
   }
   std::span<double> output = ctx.output();
   auto key = RooEFT::Detail::fingerprint(obs, n);
   auto &batch = _caches->batch;
   auto hit = std::find_if(batch.begin(), batch.end(), [&](const CacheEntry &e) { return e.key == key; });
   if (hit == batch.end()) {
      CacheEntry e;
      e.key = std::move(key);
      e.n = n;
      std::vector<float> in, net(n * L.outputs.size());
      RooEFT::Detail::gatherRows(obs, n, in);
      session().run(in.data(), n, net.data());
      ++*_nCalls;
      e.cols.resize(n * L.rowWidth);
      fillColumns(net.data(), n, e.cols.data());
      if (batch.size() >= kMaxBatchCaches)
         batch.pop_back();
      batch.insert(batch.begin(), std::move(e));
      hit = batch.begin();
   } else if (hit != batch.begin()) {
      std::rotate(batch.begin(), hit, hit + 1);
      hit = batch.begin();
   }
   std::vector<double> m, nu, nuNorm, rates, coef, sysCoef;
   parameterValues(ctx, m, nu, nuNorm, rates);
   coefficients(m, nuNorm, rates, coef);
   systematicCoefficients(nu.data(), sysCoef);
   // blocks of events keep the scratch arrays in cache
   constexpr std::size_t kBlock = 2048;
   std::vector<double> tmp(kBlock), ex(kBlock);
   std::vector<const float *> cols(L.rowWidth);
   const float *base = hit->cols.data();
   const std::size_t nOut = std::min(output.size(), hit->n);
   for (std::size_t first = 0; first < nOut; first += kBlock) {
      const std::size_t m = std::min(kBlock, nOut - first);
      for (std::size_t j = 0; j < cols.size(); ++j)
         cols[j] = base + j * hit->n + first;
      RooEFT::Math::ratioBatch(cols.data(), m, L.processes.size(), L.procT.data(), L.procK.data(), coef.data(),
                               sysCoef.data(), output.data() + first, tmp.data(), ex.data());
   }
}

void RooEFTUnbinnedPdf::precompute(const RooAbsData &data) const
{
   const Layout &L = layout();
   const std::size_t n = data.numEntries(), d = _obs.size();
   std::vector<float> in(n * d);
   std::vector<std::string> keys(n, std::string(d * sizeof(double), '\0'));
   for (std::size_t i = 0; i < n; ++i) {
      const RooArgSet *row = data.get(i);
      for (std::size_t j = 0; j < d; ++j) {
         auto *v = dynamic_cast<const RooAbsReal *>(row->find(_obs[j].GetName()));
         if (!v)
            throw std::invalid_argument(pdfName(this) + "dataset '" + data.GetName() + "' has no observable '" +
                                        _obs[j].GetName() + "'");
         const double x = v->getVal();
         in[i * d + j] = static_cast<float>(x);
         std::memcpy(&keys[i][j * sizeof(double)], &x, sizeof(double));
      }
   }
   std::vector<float> net(n * L.outputs.size());
   session().run(in.data(), n, net.data());
   ++*_nCalls;
   std::vector<float> cols(n * L.rowWidth);
   fillColumns(net.data(), n, cols.data());
   if (_caches->scalar.size() + n > kMaxScalarCache)
      _caches->scalar.clear();
   for (std::size_t i = 0; i < n; ++i) {
      std::vector<float> row(L.rowWidth);
      for (std::size_t j = 0; j < L.rowWidth; ++j)
         row[j] = cols[j * n + i];
      _caches->scalar[keys[i]] = std::move(row);
   }
}

void RooEFTUnbinnedPdf::clearCache() const
{
   _caches->batch.clear();
   _caches->scalar.clear();
}

std::size_t RooEFTUnbinnedPdf::cachedEvents() const
{
   std::size_t n = _caches->scalar.size();
   for (const auto &e : _caches->batch)
      n += e.n;
   return n;
}

Int_t RooEFTUnbinnedPdf::getGenerator(const RooArgSet &directVars, RooArgSet &generateVars, bool) const
{
   if (_normInputs.empty() || _normInputs.size() != _normWeights.size() * _obs.size())
      throw std::logic_error(pdfName(this) +
                             "cannot generate events: the pdf is a per-event ratio to the simulation's SM density "
                             "and holds no normalisation sample to resample (setNormalisationSample). Generate "
                             "pseudo-data by resampling the simulation: `rooeft toys`, or the workspace's "
                             "sim_<channel> dataset weighted by Σ_t m_t(θ) w_t");
   RooArgSet obs(_obs);
   if (matchArgs(directVars, generateVars, obs))
      return 1;
   throw std::logic_error(pdfName(this) + "can only generate all its observables together");
}

void RooEFTUnbinnedPdf::initGenerator(Int_t code)
{
   if (code != 1)
      throw std::logic_error(pdfName(this) + "unknown generator code " + std::to_string(code));
   std::vector<double> terms;
   sampleTerms(terms);
   _genCumulative.resize(terms.size());
   double sum = 0.0;
   for (std::size_t j = 0; j < terms.size(); ++j) {
      if (terms[j] < 0 || !std::isfinite(terms[j]))
         throw std::logic_error(pdfName(this) + "cannot generate events: normalisation-sample event " +
                                std::to_string(j) + " has w·R = " + std::to_string(terms[j]) +
                                " (negative weights or ratios cannot be sampled)");
      sum += terms[j];
      _genCumulative[j] = sum;
   }
   if (!(sum > 0))
      throw std::logic_error(pdfName(this) + "cannot generate events: Σ w·R over the normalisation sample is " +
                             std::to_string(sum));
}

void RooEFTUnbinnedPdf::generateEvent(Int_t code)
{
   if (code != 1 || _genCumulative.empty())
      throw std::logic_error(pdfName(this) + "generateEvent called before initGenerator");
   const double u = RooRandom::uniform() * _genCumulative.back();
   std::size_t j = static_cast<std::size_t>(std::upper_bound(_genCumulative.begin(), _genCumulative.end(), u) -
                                            _genCumulative.begin());
   j = std::min(j, _genCumulative.size() - 1);
   const std::size_t d = _obs.size();
   for (std::size_t k = 0; k < d; ++k) {
      auto &v = static_cast<RooRealVar &>(_obs[k]);
      v.setVal(std::clamp(static_cast<double>(_normInputs[j * d + k]), v.getMin(), v.getMax()));
   }
}

std::unique_ptr<RooAbsReal> RooEFTUnbinnedPdf::createExpectedEventsFunc(const RooArgSet *) const
{
   std::string name = std::string(GetName()) + "_expectedEvents";
   return std::make_unique<RooEFTYield>(name.c_str(), name.c_str(), *this);
}
