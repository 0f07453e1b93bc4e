#include "RooEFT/RooEFTTemplatePdf.h"

#include "RooEFT/Math.h"

#include <RooArgSet.h>
#include <RooExtendedBinding.h>
#include <RooFit/EvalContext.h>
#include <RooRealVar.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace {
std::string pdfName(const RooAbsArg *a) { return std::string("RooEFTTemplatePdf '") + a->GetName() + "': "; }

void checkFinite(const RooAbsArg *self, const std::vector<double> &v, const std::string &what)
{
   for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i]))
         throw std::invalid_argument(pdfName(self) + what + " has a non-finite value in entry " + std::to_string(i));
   }
}
} // namespace

RooEFTTemplatePdf::RooEFTTemplatePdf(const char *name, const char *title, RooRealVar &x,
                                     const std::vector<double> &edges, const RooArgList &coefficients)
   : RooAbsPdf(name, title), _x("x", "observable", this, x), _theta("theta", "Wilson coefficients", this),
     _nu("nu", "nuisances", this), _rates("rates", "rate modifiers", this), _gammas("gammas", "bin parameters", this),
     _edges(edges)
{
   if (edges.size() < 2)
      throw std::invalid_argument(pdfName(this) + "needs at least two bin edges");
   checkFinite(this, edges, "bin edges");
   for (std::size_t i = 1; i < edges.size(); ++i) {
      if (!(edges[i] > edges[i - 1]))
         throw std::invalid_argument(pdfName(this) + "bin edges must increase strictly (edge " + std::to_string(i) +
                                     ")");
   }
   for (auto *a : coefficients) {
      if (!dynamic_cast<RooAbsReal *>(a))
         throw std::invalid_argument(pdfName(this) + "coefficient '" + a->GetName() + "' is not a RooAbsReal");
   }
   _theta.add(coefficients);
}

RooEFTTemplatePdf::RooEFTTemplatePdf(const RooEFTTemplatePdf &other, const char *name)
   : RooAbsPdf(other, name), _x("x", this, other._x), _theta("theta", this, other._theta), _nu("nu", this, other._nu),
     _rates("rates", this, other._rates), _gammas("gammas", this, other._gammas), _edges(other._edges),
     _procNames(other._procNames), _nominal(other._nominal), _terms(other._terms), _hasEFT(other._hasEFT),
     _shapeNu(other._shapeNu), _shapeProc(other._shapeProc), _shapeUp(other._shapeUp), _shapeDown(other._shapeDown),
     _normNu(other._normNu), _normProc(other._normProc), _normCode(other._normCode), _normUp(other._normUp),
     _normDown(other._normDown), _rateProcess(other._rateProcess)
{
}

std::size_t RooEFTTemplatePdf::processIndex(const char *process) const
{
   auto it = std::find(_procNames.begin(), _procNames.end(), std::string(process));
   if (it == _procNames.end())
      throw std::invalid_argument(pdfName(this) + "unknown process '" + process + "'");
   return static_cast<std::size_t>(it - _procNames.begin());
}

std::size_t RooEFTTemplatePdf::nuisanceIndex(RooAbsReal &nuisance)
{
   int idx = _nu.index(nuisance.GetName());
   if (idx >= 0) {
      if (&_nu[idx] != &nuisance)
         throw std::invalid_argument(pdfName(this) + "two different nuisance objects are named '" + nuisance.GetName() +
                                     "'");
      return static_cast<std::size_t>(idx);
   }
   _nu.add(nuisance);
   return _nu.size() - 1;
}

void RooEFTTemplatePdf::addProcess(const char *process, const std::vector<double> &nominal,
                                   const std::vector<double> &terms)
{
   if (std::find(_procNames.begin(), _procNames.end(), std::string(process)) != _procNames.end())
      throw std::invalid_argument(pdfName(this) + "process '" + process + "' added twice");
   const std::size_t nB = nBins(), nT = RooEFT::Math::nTerms(_theta.size());
   if (nominal.size() != nB)
      throw std::invalid_argument(pdfName(this) + "process '" + process + "' has " + std::to_string(nominal.size()) +
                                  " nominal yields for " + std::to_string(nB) + " bins");
   checkFinite(this, nominal, std::string("nominal yields of '") + process + "'");
   if (!terms.empty() && terms.size() != nB * nT)
      throw std::invalid_argument(pdfName(this) + "process '" + process +
                                  "' needs nBins × nTerms = " + std::to_string(nB * nT) +
                                  " polynomial coefficients, got " + std::to_string(terms.size()));
   checkFinite(this, terms, std::string("EFT coefficients of '") + process + "'");
   _procNames.emplace_back(process);
   _nominal.insert(_nominal.end(), nominal.begin(), nominal.end());
   if (terms.empty()) {
      for (std::size_t b = 0; b < nB; ++b) {
         _terms.push_back(1.0);
         _terms.insert(_terms.end(), nT - 1, 0.0);
      }
   } else {
      _terms.insert(_terms.end(), terms.begin(), terms.end());
   }
   _hasEFT.push_back(terms.empty() ? 0 : 1);
   setValueDirty();
}

void RooEFTTemplatePdf::addShapeSystematic(RooAbsReal &nuisance, const char *process, const std::vector<double> &up,
                                           const std::vector<double> &down)
{
   const std::size_t p = processIndex(process);
   if (up.size() != nBins() || down.size() != nBins())
      throw std::invalid_argument(pdfName(this) + "shape systematic '" + nuisance.GetName() + "' on '" + process +
                                  "' needs " + std::to_string(nBins()) + " up and down yields");
   checkFinite(this, up, std::string("up yields of '") + nuisance.GetName() + "'");
   checkFinite(this, down, std::string("down yields of '") + nuisance.GetName() + "'");
   _shapeNu.push_back(static_cast<int>(nuisanceIndex(nuisance)));
   _shapeProc.push_back(static_cast<int>(p));
   _shapeUp.insert(_shapeUp.end(), up.begin(), up.end());
   _shapeDown.insert(_shapeDown.end(), down.begin(), down.end());
   setValueDirty();
}

void RooEFTTemplatePdf::addNormSystematic(RooAbsReal &nuisance, const char *process, double kappaUp, double kappaDown,
                                          int code)
{
   const std::size_t p = processIndex(process);
   if (!(kappaUp > 0) || !(kappaDown > 0) || !std::isfinite(kappaUp) || !std::isfinite(kappaDown))
      throw std::invalid_argument(pdfName(this) + "normalisation systematic '" + nuisance.GetName() +
                                  "': κ must be finite and > 0");
   if (code != 1 && code != 4)
      throw std::invalid_argument(pdfName(this) + "interpolation code must be 1 or 4, got " + std::to_string(code));
   _normNu.push_back(static_cast<int>(nuisanceIndex(nuisance)));
   _normProc.push_back(static_cast<int>(p));
   _normCode.push_back(code);
   _normUp.push_back(kappaUp);
   _normDown.push_back(kappaDown);
   setValueDirty();
}

void RooEFTTemplatePdf::setRateModifier(const char *process, RooAbsReal &mu)
{
   const int p = static_cast<int>(processIndex(process));
   if (std::find(_rateProcess.begin(), _rateProcess.end(), p) != _rateProcess.end())
      throw std::invalid_argument(pdfName(this) + "process '" + process + "' already has a rate modifier");
   _rates.add(mu);
   _rateProcess.push_back(p);
   setValueDirty();
}

void RooEFTTemplatePdf::setBinParameters(const RooArgList &gammas)
{
   if (static_cast<std::size_t>(gammas.size()) != nBins())
      throw std::invalid_argument(pdfName(this) + "needs one bin parameter per bin (" + std::to_string(nBins()) +
                                  "), got " + std::to_string(gammas.size()));
   _gammas.removeAll();
   _gammas.add(gammas);
   setValueDirty();
}

namespace {
std::vector<double> proxyValues(const RooListProxy &list)
{
   std::vector<double> out(list.size());
   for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<const RooAbsReal &>(list[i]).getVal();
   return out;
}

std::vector<double> contextListValues(RooFit::EvalContext &ctx, const RooListProxy &list)
{
   std::vector<double> out(list.size());
   for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = ctx.at(&list[i])[0];
   return out;
}
} // namespace

RooEFTTemplatePdf::Values RooEFTTemplatePdf::currentValues() const
{
   return {proxyValues(_theta), proxyValues(_nu), proxyValues(_rates), proxyValues(_gammas)};
}

RooEFTTemplatePdf::Values RooEFTTemplatePdf::contextValues(RooFit::EvalContext &ctx) const
{
   return {contextListValues(ctx, _theta), contextListValues(ctx, _nu), contextListValues(ctx, _rates),
           contextListValues(ctx, _gammas)};
}

RooEFT::RateEffects RooEFTTemplatePdf::rateEffects() const
{
   return {_procNames.size(), _normNu.size(),   _normCode.data(),    _normProc.data(),
           _normUp.data(),    _normDown.data(), _rateProcess.size(), _rateProcess.data()};
}

void RooEFTTemplatePdf::addProcessYields(std::size_t p, const Values &v, std::vector<double> &yields) const
{
   const std::size_t nB = nBins(), nC = _theta.size(), nT = RooEFT::Math::nTerms(nC);
   std::vector<double> m(nT), nuNorm(_normNu.size());
   RooEFT::Math::monomials(v.theta.data(), nC, m.data());
   for (std::size_t e = 0; e < _normNu.size(); ++e)
      nuNorm[e] = v.nu[_normNu[e]];
   const double factor = RooEFT::rateFactor(rateEffects(), p, nuNorm.data(), v.rates.data());
   for (std::size_t b = 0; b < nB; ++b) {
      const double nom = _nominal[p * nB + b];
      double val = nom;
      for (std::size_t e = 0; e < _shapeNu.size(); ++e) {
         if (static_cast<std::size_t>(_shapeProc[e]) == p)
            val += RooEFT::Math::code4Add(v.nu[_shapeNu[e]], nom, _shapeUp[e * nB + b], _shapeDown[e * nB + b]);
      }
      const double scale = _hasEFT[p] ? RooEFT::Math::dot(&_terms[(p * nB + b) * nT], m.data(), nT) : 1.0;
      yields[b] += factor * val * scale;
   }
}

std::vector<double> RooEFTTemplatePdf::processBinYields(const char *process) const
{
   std::vector<double> y(nBins(), 0.0);
   addProcessYields(processIndex(process), currentValues(), y);
   return y;
}

double RooEFTTemplatePdf::processYield(const char *process) const
{
   if (!process || !*process)
      return expectedEvents(nullptr);
   const std::vector<double> y = processBinYields(process);
   double total = 0.0;
   for (std::size_t b = 0; b < y.size(); ++b)
      total += y[b] * (_gammas.empty() ? 1.0 : static_cast<const RooAbsReal &>(_gammas[b]).getVal());
   return total;
}

std::vector<double> RooEFTTemplatePdf::binYields(const Values &v) const
{
   std::vector<double> y(nBins(), 0.0);
   for (std::size_t p = 0; p < _procNames.size(); ++p)
      addProcessYields(p, v, y);
   for (std::size_t b = 0; b < v.gammas.size(); ++b)
      y[b] *= v.gammas[b];
   return y;
}

std::vector<double> RooEFTTemplatePdf::binYields() const { return binYields(currentValues()); }

std::size_t RooEFTTemplatePdf::binOf(double x) const
{
   auto it = std::upper_bound(_edges.begin(), _edges.end(), x);
   if (it == _edges.begin())
      return 0;
   return std::min<std::size_t>(static_cast<std::size_t>(it - _edges.begin()) - 1, nBins() - 1);
}

double RooEFTTemplatePdf::expectedEvents(const RooArgSet *) const
{
   double total = 0.0;
   for (double y : binYields())
      total += y;
   return total;
}

Int_t RooEFTTemplatePdf::getAnalyticalIntegral(RooArgSet &allVars, RooArgSet &analVars, const char *rangeName) const
{
   if (rangeName && *rangeName)
      return 0;
   return matchArgs(allVars, analVars, _x) ? 1 : 0;
}

double RooEFTTemplatePdf::analyticalIntegral(Int_t code, const char *) const
{
   if (code != 1)
      throw std::logic_error(pdfName(this) + "unknown integration code " + std::to_string(code));
   return expectedEvents(nullptr);
}

double RooEFTTemplatePdf::evaluate() const
{
   const std::size_t b = binOf(_x);
   const double y = binYields()[b];
   if (!(y > 0))
      logEvalError("bin yield <= 0");
   return y / (_edges[b + 1] - _edges[b]);
}

void RooEFTTemplatePdf::doEval(RooFit::EvalContext &ctx) const
{
   const std::vector<double> y = binYields(contextValues(ctx));
   std::span<const double> xs = ctx.at(_x);
   std::span<double> out = ctx.output();
   for (std::size_t i = 0; i < out.size(); ++i) {
      const std::size_t b = binOf(xs.size() == 1 ? xs[0] : xs[i]);
      out[i] = y[b] / (_edges[b + 1] - _edges[b]);
   }
}

std::unique_ptr<RooAbsReal> RooEFTTemplatePdf::createExpectedEventsFunc(const RooArgSet *) const
{
   std::string name = std::string(GetName()) + "_expectedEvents";
   return std::make_unique<RooExtendedBinding>(name.c_str(), name.c_str(), const_cast<RooEFTTemplatePdf &>(*this));
}
