#include "RooEFT/NLLKernel.h"

#include "ColumnPass.h"
#include "CpuDispatch.h"

#include "RooEFT/Detail.h"
#include "RooEFT/Math.h"
#include "RooEFT/OnnxSession.h"
#include "RooEFT/RooEFTTemplatePdf.h"
#include "RooEFT/RooEFTUnbinnedPdf.h"
#include "RooEFT/ModelLayout.h"

#include <Math/Minimizer.h>
#include <RooAbsCollection.h>
#include <RooAbsRealLValue.h>
#include <RooArgList.h>
#include <RooConstVar.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace RooEFT {

namespace {

std::string kernelName() { return "RooEFT::NLLKernel: "; }

/// Indices (in the kernel's parameter vector) of the members of a proxy list; every member must
/// be a real-valued variable the kernel knows by name.
std::vector<std::size_t> indicesOf(const NLLKernel &k, const std::string &owner, const RooAbsCollection &list)
{
   std::vector<std::size_t> out;
   for (RooAbsArg *a : list) {
      if (!dynamic_cast<RooAbsRealLValue *>(a))
         throw std::invalid_argument(kernelName() + owner + " depends on '" + a->GetName() +
                                     "', which is a function, not a parameter: the kernel supports parameters only "
                                     "(use the RooFit engine)");
      out.push_back(k.index(a->GetName()));
   }
   return out;
}

using Kahan = Detail::KahanSum;

unsigned defaultThreads()
{
   if (const char *env = std::getenv("ROOEFT_NUM_THREADS")) {
      const long n = std::strtol(env, nullptr, 10);
      if (n >= 1)
         return static_cast<unsigned>(n);
   }
   const unsigned hw = std::thread::hardware_concurrency();
   return hw == 0 ? 1u : hw;
}

/// Φ(b) − Φ(a) for a < b, accurate in the tails.
double normalProbability(double a, double b)
{
   if (a >= 0.0)
      return 0.5 * (std::erfc(a / std::sqrt(2.0)) - std::erfc(b / std::sqrt(2.0)));
   if (b <= 0.0)
      return 0.5 * (std::erfc(-b / std::sqrt(2.0)) - std::erfc(-a / std::sqrt(2.0)));
   return 1.0 - 0.5 * std::erfc(b / std::sqrt(2.0)) - 0.5 * std::erfc(-a / std::sqrt(2.0));
}

double normalDensity(double z) { return std::isinf(z) ? 0.0 : std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI); }

} // namespace

/// An unbinned channel: the pdf's layout and yield model, the cached columns of its events and
/// of its normalisation sample, and where its parameters sit in the kernel's vector.
struct NLLKernel::Unbinned {
   std::string name;
   std::size_t nProc = 0, nT = 1, nC = 0, nS = 0, rowWidth = 0;
   std::vector<std::size_t> procT, procK;
   YieldModel ym;
   /// 0: I = ν_tot/N_0 (no normalisation sample); 1: the sample, event by event (per-event shape
   /// systematics); 2: the sample from its per-term sums (RooEFTUnbinnedPdf::normSums)
   int normMode = 0;
   std::vector<double> normSums; ///< normMode 2: S_pt, per process procT[p] values
   std::vector<float> cols;
   std::size_t n = 0;
   std::vector<double> w;
   double sumW = 0.0;
   std::vector<float> normCols;
   std::size_t nNorm = 0;
   std::vector<double> normW;
   std::vector<std::size_t> iTheta, iShape, iNorm, iRate;
   /// Accumulators of one pass: [Σ w lnR or Σ w R] then per process U_pt (T_p), WA_pk, WB_pk (K_p each).
   std::size_t nAcc() const
   {
      std::size_t a = 1;
      for (std::size_t p = 0; p < nProc; ++p)
         a += procT[p] + 2 * procK[p];
      return a;
   }
};

/// A binned channel: copies of the template pdf's tables and its parameter indices.
struct NLLKernel::Binned {
   std::string name;
   std::size_t nB = 0, nC = 0, nT = 1, nProc = 0;
   std::vector<double> counts, nominal, terms;
   std::vector<int> hasEFT, shapeNu, shapeProc, normNu, normProc, normCode, rateProcess;
   std::vector<double> shapeUp, shapeDown, normUp, normDown;
   std::vector<std::size_t> iTheta, iNu, iRate, iGamma;
};

NLLKernel::NLLKernel(const std::vector<std::string> &parameters) : _names(parameters), _threads(defaultThreads())
{
   for (std::size_t i = 0; i < _names.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
         if (_names[i] == _names[j])
            throw std::invalid_argument(kernelName() + "parameter '" + _names[i] + "' is listed twice");
      }
   }
}

NLLKernel::~NLLKernel() = default;

std::vector<std::size_t> NLLKernel::rateIndices(const std::string &owner, const RooAbsCollection &list)
{
   std::vector<std::size_t> out;
   for (RooAbsArg *a : list) {
      if (auto *c = dynamic_cast<RooConstVar *>(a)) {
         out.push_back(_names.size() + _fixed.size());
         _fixed.push_back(c->getVal());
         continue;
      }
      RooArgList one(*a);
      out.push_back(indicesOf(*this, owner, one).front());
   }
   return out;
}

std::size_t NLLKernel::index(const std::string &name) const
{
   auto it = std::find(_names.begin(), _names.end(), name);
   if (it == _names.end())
      throw std::invalid_argument(kernelName() + "unknown parameter '" + name +
                                  "' (not in the parameter list the kernel was made with)");
   return static_cast<std::size_t>(it - _names.begin());
}

void NLLKernel::setThreads(unsigned n) { _threads = std::max(1u, n); }

std::size_t NLLKernel::nEvents() const
{
   std::size_t n = 0;
   for (const auto &c : _unbinned)
      n += c->n;
   return n;
}

std::size_t NLLKernel::nChannels() const { return _unbinned.size() + _binned.size(); }

void NLLKernel::resetCounters() const
{
   _valueCalls = 0;
   _gradCalls = 0;
}

void NLLKernel::addUnbinned(const RooEFTUnbinnedPdf &pdf, const std::vector<float> &inputs,
                            const std::vector<double> &weights)
{
   const std::string owner = std::string("pdf '") + pdf.GetName() + "'";
   const auto &L = pdf.layout();
   const std::size_t d = pdf._obs.size(), n = weights.size();
   if (inputs.size() != n * d)
      throw std::invalid_argument(kernelName() + owner + ": " + std::to_string(inputs.size()) + " input values for " +
                                  std::to_string(n) + " events of " + std::to_string(d) + " observables");
   auto ch = std::make_unique<Unbinned>();
   ch->name = pdf.GetName();
   ch->nProc = L.processes.size();
   ch->nT = L.nT;
   ch->nC = pdf._theta.size();
   ch->nS = pdf._nuShape.size();
   ch->procT = L.procT;
   ch->procK = L.procK;
   ch->rowWidth = L.rowWidth;
   ch->ym = pdf._ym;
   ch->iTheta = indicesOf(*this, owner, pdf._theta);
   ch->iShape = indicesOf(*this, owner, pdf._nuShape);
   ch->iNorm = indicesOf(*this, owner, pdf._nuNorm);
   ch->iRate = rateIndices(owner, pdf._rates);
   for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(weights[i]))
         throw std::invalid_argument(kernelName() + owner + ": weight of event " + std::to_string(i) +
                                     " is not finite");
      ch->sumW += weights[i];
   }
   ch->n = n;
   ch->w = weights;
   ch->cols.assign(n * L.rowWidth, 0.0f);
   if (n > 0) {
      std::vector<float> net(n * L.outputs.size());
      pdf.session().run(inputs.data(), n, net.data());
      ++*pdf._nCalls;
      pdf.fillColumns(net.data(), n, ch->cols.data());
      std::size_t bad = 0, first = 0;
      for (std::size_t i = 0; i < n; ++i) {
         if (std::isnan(ch->cols[i]) && bad++ == 0)
            first = i;
      }
      if (bad)
         throw std::invalid_argument(kernelName() + owner + ": " + std::to_string(bad) + " of " + std::to_string(n) +
                                     " events have non-finite network outputs or non-positive systematic ratios "
                                     "(first: event " +
                                     std::to_string(first) + ")");
   }
   if (!pdf._normWeights.empty()) {
      // without per-event shape systematics, Σ_j w_j R_j = Σ_p μ_p Σ_t m_t S_pt: the pdf's sums,
      // computed once (its cache), make I and its gradient O(processes × terms) per call
      const bool shapeColumns = std::any_of(ch->procK.begin(), ch->procK.end(), [](std::size_t k) { return k > 0; });
      if (pdf.factorisedNormalisation() && !shapeColumns) {
         ch->normMode = 2;
         ch->normSums = pdf.normSums({}, {}, std::vector<double>(ch->nS, 0.0));
      } else {
         ch->normMode = 1;
         ch->normCols = pdf._normCols;
         ch->normW = pdf._normWeights;
         ch->nNorm = pdf._normWeights.size();
      }
   }
   _unbinned.push_back(std::move(ch));
}

void NLLKernel::addBinned(const RooEFTTemplatePdf &pdf, const std::vector<double> &counts)
{
   const std::string owner = std::string("pdf '") + pdf.GetName() + "'";
   if (counts.size() != pdf.nBins())
      throw std::invalid_argument(kernelName() + owner + ": " + std::to_string(counts.size()) + " counts for " +
                                  std::to_string(pdf.nBins()) + " bins");
   for (std::size_t b = 0; b < counts.size(); ++b) {
      if (!std::isfinite(counts[b]))
         throw std::invalid_argument(kernelName() + owner + ": count of bin " + std::to_string(b) + " is not finite");
   }
   auto ch = std::make_unique<Binned>();
   ch->name = pdf.GetName();
   ch->nB = pdf.nBins();
   ch->nC = pdf._theta.size();
   ch->nT = Math::nTerms(ch->nC);
   ch->nProc = pdf._procNames.size();
   ch->counts = counts;
   ch->nominal = pdf._nominal;
   ch->terms = pdf._terms;
   ch->hasEFT = pdf._hasEFT;
   ch->shapeNu = pdf._shapeNu;
   ch->shapeProc = pdf._shapeProc;
   ch->shapeUp = pdf._shapeUp;
   ch->shapeDown = pdf._shapeDown;
   ch->normNu = pdf._normNu;
   ch->normProc = pdf._normProc;
   ch->normCode = pdf._normCode;
   ch->normUp = pdf._normUp;
   ch->normDown = pdf._normDown;
   ch->rateProcess = pdf._rateProcess;
   ch->iTheta = indicesOf(*this, owner, pdf._theta);
   ch->iNu = indicesOf(*this, owner, pdf._nu);
   ch->iRate = rateIndices(owner, pdf._rates);
   ch->iGamma = indicesOf(*this, owner, pdf._gammas);
   _binned.push_back(std::move(ch));
}

void NLLKernel::addGaussianConstraint(const char *parameter, double mean, double sigma, double lo, double hi)
{
   if (!(sigma > 0) || !std::isfinite(sigma) || !std::isfinite(mean))
      throw std::invalid_argument(kernelName() + "constraint of '" + parameter + "': need finite mean and sigma > 0");
   if (!(lo < hi))
      throw std::invalid_argument(kernelName() + "constraint of '" + parameter + "': range must have lo < hi");
   _constraints.push_back({index(parameter), mean, sigma, lo, hi});
}

namespace {

/// Σ a_i b_i with eight independent partial sums: vectorisable without reassociation flags and
/// deterministic (the order of the additions is fixed).
template <class B>
double dotBlock(const double *a, const B *b, std::size_t n)
{
   double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
   std::size_t i = 0;
   for (; i + 8 <= n; i += 8) {
      for (std::size_t k = 0; k < 8; ++k)
         acc[k] += a[i + k] * static_cast<double>(b[i + k]);
   }
   double tail = 0.0;
   for (; i < n; ++i)
      tail += a[i] * static_cast<double>(b[i]);
   return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

/// Σ a_i with eight independent partial sums (see dotBlock).
double sumBlock(const double *a, std::size_t n)
{
   double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
   std::size_t i = 0;
   for (; i + 8 <= n; i += 8) {
      for (std::size_t k = 0; k < 8; ++k)
         acc[k] += a[i + k];
   }
   double tail = 0.0;
   for (; i < n; ++i)
      tail += a[i];
   return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

/// Per-thread scratch for one block.
struct Scratch {
   std::vector<double> P, E, R, h, lg;
   std::vector<const float *> cols;
   Scratch(std::size_t nProc, std::size_t rowWidth)
      : P(nProc * NLLKernel::kBlock), E(nProc * NLLKernel::kBlock), R(NLLKernel::kBlock), h(NLLKernel::kBlock),
        lg(NLLKernel::kBlock), cols(rowWidth)
   {
   }
};

/// One block of events: writes the pass accumulators to `acc` (see Unbinned::nAcc). Log mode:
/// acc[0] = Σ w ln R and the gradient sums carry w/R; integral mode: acc[0] = Σ w R, sums carry w.
/// Returns false if a ratio is not positive and finite (log mode).
[[gnu::always_inline]] inline bool blockPassBody(std::size_t nProc, const std::size_t *procT, const std::size_t *procK,
                                                 std::size_t rowWidth, const float *base, std::size_t nTotal,
                                                 std::size_t first, std::size_t m, const double *w, const double *coef,
                                                 const double *sysCoef, bool logMode, bool grad, double *acc,
                                                 Scratch &s)
{
   for (std::size_t j = 0; j < rowWidth; ++j)
      s.cols[j] = base + j * nTotal + first;
   double *R = s.R.data();
   for (std::size_t i = 0; i < m; ++i)
      R[i] = 0.0;
   {
      const float *const *cols = s.cols.data();
      const double *c = coef;
      for (std::size_t p = 0; p < nProc; ++p) {
         const std::size_t T = procT[p], K2 = 2 * procK[p];
         double *P = s.P.data() + p * NLLKernel::kBlock, *E = s.E.data() + p * NLLKernel::kBlock;
         Math::processFactors(cols, m, T, K2, c, sysCoef, P, E);
         const float *pi = cols[0];
         if (K2) {
            for (std::size_t i = 0; i < m; ++i)
               E[i] *= pi[i];
         } else {
            for (std::size_t i = 0; i < m; ++i)
               E[i] = pi[i];
         }
         for (std::size_t i = 0; i < m; ++i)
            R[i] += E[i] * P[i]; // E now holds q = π·E
         cols += T + K2;
         c += T;
      }
   }
   double *h = s.h.data();
   if (logMode) {
      bool ok = true;
      for (std::size_t i = 0; i < m; ++i)
         ok = ok && (R[i] > 0.0) && (R[i] < std::numeric_limits<double>::infinity());
      if (!ok)
         return false;
      double *lg = s.lg.data();
      std::copy(R, R + m, lg);
      Math::logInPlace(lg, m);
      acc[0] = dotBlock(w, lg, m);
      if (grad) {
         for (std::size_t i = 0; i < m; ++i)
            h[i] = w[i] / R[i];
      }
   } else {
      acc[0] = dotBlock(w, R, m);
      std::copy(w, w + m, h);
   }
   if (!grad)
      return true;
   const float *const *cols = s.cols.data();
   std::size_t a = 1;
   for (std::size_t p = 0; p < nProc; ++p) {
      const std::size_t T = procT[p], K = procK[p];
      const double *q = s.E.data() + p * NLLKernel::kBlock, *P = s.P.data() + p * NLLKernel::kBlock;
      double *g = s.lg.data(); // reuse: g_i = q_i h_i
      for (std::size_t i = 0; i < m; ++i)
         g[i] = q[i] * h[i];
      acc[a++] = sumBlock(g, m);
      for (std::size_t t = 1; t < T; ++t)
         acc[a++] = dotBlock(g, cols[t], m);
      if (K) {
         for (std::size_t i = 0; i < m; ++i)
            g[i] *= P[i];
         for (std::size_t j = 0; j < 2 * K; ++j)
            acc[a++] = dotBlock(g, cols[T + j], m);
      }
      cols += T + 2 * K;
   }
   return true;
}

#ifdef ROOEFT_DISPATCH_AVX2
/// blockPassBody compiled for AVX2+FMA (CpuDispatch.h); `flatten` inlines its helpers
/// (dotBlock, sumBlock, Math::processFactors) so that they are compiled for AVX2 too.
template <class... A>
ROOEFT_TARGET_AVX2 [[gnu::flatten]] bool blockPassAvx2(A &&...a)
{
   return blockPassBody(a...);
}
#endif

/// One block of events (blockPassBody), with the instruction set chosen at run time.
template <class... A>
bool blockPass(A &&...a)
{
#ifdef ROOEFT_DISPATCH_AVX2
   if (Detail::useAvx2Fma())
      return blockPassAvx2(a...);
#endif
   return blockPassBody(a...);
}

/// All blocks of a column set, split over `threads`, reduced in block order with Kahan sums.
/// Returns false if any block failed.
bool fullPass(std::size_t nProc, const std::vector<std::size_t> &procT, const std::vector<std::size_t> &procK,
              std::size_t rowWidth, std::size_t nAcc, const std::vector<float> &cols, std::size_t n,
              const std::vector<double> &w, const double *coef, const double *sysCoef, bool logMode, bool grad,
              unsigned threads, std::vector<double> &out)
{
   const std::size_t nBlocks = (n + NLLKernel::kBlock - 1) / NLLKernel::kBlock;
   const std::size_t width = grad ? nAcc : 1;
   std::vector<double> partial(nBlocks * nAcc, 0.0);
   const unsigned nThreads = static_cast<unsigned>(
      std::min<std::size_t>(threads, std::max<std::size_t>(1, n / (16 * NLLKernel::kBlock)))); // ≥ 16 blocks per thread
   std::vector<char> okPerThread(nThreads, 1);
   auto work = [&](unsigned tid) {
      Scratch s(nProc, rowWidth);
      const std::size_t b0 = nBlocks * tid / nThreads, b1 = nBlocks * (tid + 1) / nThreads;
      for (std::size_t b = b0; b < b1; ++b) {
         const std::size_t first = b * NLLKernel::kBlock, m = std::min(NLLKernel::kBlock, n - first);
         if (!blockPass(nProc, procT.data(), procK.data(), rowWidth, cols.data(), n, first, m, w.data() + first, coef,
                        sysCoef, logMode, grad, partial.data() + b * nAcc, s)) {
            okPerThread[tid] = 0;
            return;
         }
      }
   };
   if (nThreads <= 1) {
      work(0);
   } else {
      std::vector<std::thread> pool;
      for (unsigned t = 1; t < nThreads; ++t)
         pool.emplace_back(work, t);
      work(0);
      for (auto &th : pool)
         th.join();
   }
   for (char ok : okPerThread) {
      if (!ok)
         return false;
   }
   out.assign(nAcc, 0.0);
   for (std::size_t j = 0; j < width; ++j) {
      Kahan k;
      for (std::size_t b = 0; b < nBlocks; ++b)
         k.add(partial[b * nAcc + j]);
      out[j] = k.sum;
   }
   return true;
}

} // namespace

std::vector<double> Detail::termSums(const std::vector<std::size_t> &procT, const std::vector<std::size_t> &procK,
                                     std::size_t rowWidth, const std::vector<float> &cols, std::size_t n,
                                     const std::vector<double> &w, const double *sysCoef, unsigned threads)
{
   // the integral-mode pass with its gradient accumulators: per process [Σ w q r_t (T), WA, WB (2K)]
   // after acc[0]; the sums do not depend on the θ coefficients, so they are zero here
   const std::size_t nProc = procT.size();
   std::size_t nAcc = 1, nCoef = 0;
   for (std::size_t p = 0; p < nProc; ++p) {
      nAcc += procT[p] + 2 * procK[p];
      nCoef += procT[p];
   }
   const std::vector<double> coef(nCoef, 0.0);
   std::vector<double> acc, sums;
   fullPass(nProc, procT, procK, rowWidth, nAcc, cols, n, w, coef.data(), sysCoef, false, true, threads, acc);
   for (std::size_t p = 0, a = 1; p < nProc; ++p) {
      sums.insert(sums.end(), acc.begin() + a, acc.begin() + a + procT[p]);
      a += procT[p] + 2 * procK[p];
   }
   return sums;
}

double NLLKernel::unbinnedTerm(const Unbinned &ch, const double *x, double *grad) const
{
   const double nan = std::numeric_limits<double>::quiet_NaN();
   const std::size_t nC = ch.nC, nT = ch.nT, nS = ch.nS, nN = ch.iNorm.size(), nR = ch.iRate.size();
   std::vector<double> th(nC), m(nT), dm(nC * nT), nuS(nS), nuN(nN), rates(nR);
   for (std::size_t a = 0; a < nC; ++a)
      th[a] = x[ch.iTheta[a]];
   for (std::size_t k = 0; k < nS; ++k)
      nuS[k] = x[ch.iShape[k]];
   for (std::size_t j = 0; j < nN; ++j)
      nuN[j] = x[ch.iNorm[j]];
   for (std::size_t r = 0; r < nR; ++r)
      rates[r] = x[ch.iRate[r]];
   Math::monomials(th.data(), nC, m.data());
   Math::monomialGradient(th.data(), nC, dm.data());
   std::vector<double> mu(ch.nProc), coef, sysCoef(2 * nS), dsys(nS);
   for (std::size_t p = 0; p < ch.nProc; ++p) {
      mu[p] = ch.ym.rateFactor(p, nuN.data(), rates.data());
      for (std::size_t t = 0; t < ch.procT[p]; ++t)
         coef.push_back(mu[p] * m[t]);
   }
   for (std::size_t k = 0; k < nS; ++k) {
      sysCoef[2 * k] = nuS[k];
      sysCoef[2 * k + 1] = nuS[k] * Math::smoothStep(nuS[k]);
      dsys[k] = Math::nuSmoothStepDerivative(nuS[k]);
   }
   const bool wantGrad = grad != nullptr;
   const std::size_t nAcc = ch.nAcc();
   // gradient pieces: ν_tot, L = Σ w ln R, I
   std::vector<double> gT(nC), gS(nS), gN(nN), gR(nR); // ∂ν_tot
   std::vector<double> lT(nC), lS(nS), lN(nN), lR(nR); // ∂L
   std::vector<double> iT(nC), iS(nS), iN(nN), iR(nR); // ∂I
   const double nuTot = ch.ym.totalYieldGradient(m.data(), dm.data(), nC, nuS.data(), nuN.data(), rates.data(),
                                                 gT.data(), gS.data(), gN.data(), gR.data());
   if (!(nuTot > 0))
      return nan;

   // accumulators → gradient of Σ w f (f = ln R or R), given per-process sums
   auto accToGrad = [&](const std::vector<double> &acc, double *oT, double *oS, double *oN, double *oR) {
      std::size_t a = 1;
      for (std::size_t p = 0; p < ch.nProc; ++p) {
         const std::size_t T = ch.procT[p], K = ch.procK[p];
         const double *U = acc.data() + a;
         if (T == nT) {
            for (std::size_t c = 0; c < nC; ++c)
               oT[c] += mu[p] * Math::dot(dm.data() + c * nT, U, nT);
         }
         const double V = mu[p] * Math::dot(m.data(), U, T); // Σ w R_p (/R)
         for (std::size_t j = 0; j < nN; ++j)
            oN[j] += V * Math::normFactorLogDerivative(ch.ym.normCode[j], nuN[j], ch.ym.normUp[j * ch.nProc + p],
                                                       ch.ym.normDown[j * ch.nProc + p]);
         for (std::size_t r = 0; r < nR; ++r) {
            if (static_cast<std::size_t>(ch.ym.rateProcess[r]) == p)
               oR[r] += ch.ym.rateFactorExcept(p, r, nuN.data(), rates.data()) * Math::dot(m.data(), U, T);
         }
         a += T;
         for (std::size_t k = 0; k < K; ++k) {
            oS[k] += acc[a + 2 * k] + dsys[k] * acc[a + 2 * k + 1];
         }
         a += 2 * K;
      }
   };

   std::vector<double> acc;
   if (!fullPass(ch.nProc, ch.procT, ch.procK, ch.rowWidth, nAcc, ch.cols, ch.n, ch.w, coef.data(), sysCoef.data(),
                 true, wantGrad, _threads, acc))
      return nan;
   const double L = acc[0];
   if (wantGrad)
      accToGrad(acc, lT.data(), lS.data(), lN.data(), lR.data());

   double I;
   if (ch.normMode == 1) {
      std::vector<double> accI;
      fullPass(ch.nProc, ch.procT, ch.procK, ch.rowWidth, nAcc, ch.normCols, ch.nNorm, ch.normW, coef.data(),
               sysCoef.data(), false, wantGrad, _threads, accI);
      I = accI[0];
      if (wantGrad)
         accToGrad(accI, iT.data(), iS.data(), iN.data(), iR.data());
   } else if (ch.normMode == 2) {
      // the accumulators a pass would give (no shape columns): [Σ w R, S_pt per process]
      std::vector<double> accI(nAcc);
      I = 0.0;
      for (std::size_t p = 0, j = 0; p < ch.nProc; j += ch.procT[p], ++p)
         I += mu[p] * Math::dot(m.data(), ch.normSums.data() + j, ch.procT[p]);
      accI[0] = I;
      std::copy(ch.normSums.begin(), ch.normSums.end(), accI.begin() + 1);
      if (wantGrad)
         accToGrad(accI, iT.data(), iS.data(), iN.data(), iR.data());
   } else {
      const double n0 = ch.ym.nominalTotal();
      I = nuTot / n0;
      for (std::size_t c = 0; c < nC; ++c)
         iT[c] = gT[c] / n0;
      for (std::size_t k = 0; k < nS; ++k)
         iS[k] = gS[k] / n0;
      for (std::size_t j = 0; j < nN; ++j)
         iN[j] = gN[j] / n0;
      for (std::size_t r = 0; r < nR; ++r)
         iR[r] = gR[r] / n0;
   }
   if (!(I > 0))
      return nan;
   const double N = ch.sumW;
   if (wantGrad) {
      const double fy = 1.0 - N / nuTot, fi = N / I;
      auto put = [&](const std::vector<std::size_t> &idx, const std::vector<double> &gy, const std::vector<double> &gl,
                     const std::vector<double> &gi) {
         for (std::size_t j = 0; j < idx.size(); ++j)
            grad[idx[j]] += fy * gy[j] - gl[j] + fi * gi[j];
      };
      put(ch.iTheta, gT, lT, iT);
      put(ch.iShape, gS, lS, iS);
      put(ch.iNorm, gN, lN, iN);
      put(ch.iRate, gR, lR, iR);
   }
   return nuTot - N * std::log(nuTot) - L + N * std::log(I);
}

double NLLKernel::binnedTerm(const Binned &ch, const double *x, double *grad) const
{
   const double nan = std::numeric_limits<double>::quiet_NaN();
   const std::size_t nB = ch.nB, nC = ch.nC, nT = ch.nT, nP = ch.nProc;
   std::vector<double> th(nC), m(nT), dm(nC * nT);
   for (std::size_t a = 0; a < nC; ++a)
      th[a] = x[ch.iTheta[a]];
   Math::monomials(th.data(), nC, m.data());
   Math::monomialGradient(th.data(), nC, dm.data());
   auto nuOf = [&](int e) { return x[ch.iNu[static_cast<std::size_t>(e)]]; };
   const RateEffects effects{nP,
                             ch.normNu.size(),
                             ch.normCode.data(),
                             ch.normProc.data(),
                             ch.normUp.data(),
                             ch.normDown.data(),
                             ch.rateProcess.size(),
                             ch.rateProcess.data()};
   std::vector<double> nuNorm(ch.normNu.size()), rates(ch.rateProcess.size());
   for (std::size_t e = 0; e < nuNorm.size(); ++e)
      nuNorm[e] = nuOf(ch.normNu[e]);
   for (std::size_t r = 0; r < rates.size(); ++r)
      rates[r] = x[ch.iRate[r]];
   std::vector<double> factor(nP), val(nP * nB), scale(nP * nB), y(nP * nB), nb(nB, 0.0);
   for (std::size_t p = 0; p < nP; ++p)
      factor[p] = rateFactor(effects, p, nuNorm.data(), rates.data());
   for (std::size_t p = 0; p < nP; ++p) {
      for (std::size_t b = 0; b < nB; ++b) {
         const double nom = ch.nominal[p * nB + b];
         double v = nom;
         for (std::size_t e = 0; e < ch.shapeNu.size(); ++e) {
            if (static_cast<std::size_t>(ch.shapeProc[e]) == p)
               v += Math::code4Add(nuOf(ch.shapeNu[e]), nom, ch.shapeUp[e * nB + b], ch.shapeDown[e * nB + b]);
         }
         val[p * nB + b] = v;
         scale[p * nB + b] = ch.hasEFT[p] ? Math::dot(&ch.terms[(p * nB + b) * nT], m.data(), nT) : 1.0;
         y[p * nB + b] = factor[p] * v * scale[p * nB + b];
         nb[b] += y[p * nB + b];
      }
   }
   std::vector<double> gamma(nB, 1.0);
   for (std::size_t b = 0; b < ch.iGamma.size(); ++b)
      gamma[b] = x[ch.iGamma[b]];
   Kahan total;
   std::vector<double> cb(nB);
   for (std::size_t b = 0; b < nB; ++b) {
      const double n = gamma[b] * nb[b], d = ch.counts[b];
      if (n < 0 || (n == 0 && d != 0) || !std::isfinite(n))
         return nan;
      total.add(n - (d != 0 ? d * std::log(n) : 0.0));
      cb[b] = n > 0 ? 1.0 - d / n : 1.0;
   }
   if (grad) {
      for (std::size_t p = 0; p < nP; ++p) {
         for (std::size_t b = 0; b < nB; ++b) {
            const double c = cb[b] * gamma[b], ypb = y[p * nB + b];
            if (ch.hasEFT[p]) {
               for (std::size_t a = 0; a < nC; ++a)
                  grad[ch.iTheta[a]] +=
                     c * factor[p] * val[p * nB + b] * Math::dot(&ch.terms[(p * nB + b) * nT], dm.data() + a * nT, nT);
            }
            for (std::size_t e = 0; e < ch.normNu.size(); ++e) {
               if (static_cast<std::size_t>(ch.normProc[e]) == p)
                  grad[ch.iNu[ch.normNu[e]]] +=
                     c * ypb *
                     Math::normFactorLogDerivative(ch.normCode[e], nuOf(ch.normNu[e]), ch.normUp[e], ch.normDown[e]);
            }
            for (std::size_t e = 0; e < ch.shapeNu.size(); ++e) {
               if (static_cast<std::size_t>(ch.shapeProc[e]) == p)
                  grad[ch.iNu[ch.shapeNu[e]]] +=
                     c * factor[p] * scale[p * nB + b] *
                     Math::code4AddDerivative(nuOf(ch.shapeNu[e]), ch.nominal[p * nB + b], ch.shapeUp[e * nB + b],
                                              ch.shapeDown[e * nB + b]);
            }
            for (std::size_t r = 0; r < ch.rateProcess.size(); ++r) {
               if (static_cast<std::size_t>(ch.rateProcess[r]) != p)
                  continue;
               const double other = rateFactor(effects, p, nuNorm.data(), rates.data(), r); // without this one
               grad[ch.iRate[r]] += c * other * val[p * nB + b] * scale[p * nB + b];
            }
         }
      }
      for (std::size_t b = 0; b < ch.iGamma.size(); ++b)
         grad[ch.iGamma[b]] += cb[b] * nb[b];
   }
   return total.sum;
}

double NLLKernel::evaluate(const double *x, double *grad) const
{
   if (!_fixed.empty()) { // constant rate modifiers: the channel terms read them after the parameters
      const std::size_t n = _names.size();
      std::vector<double> xe(x, x + n);
      xe.insert(xe.end(), _fixed.begin(), _fixed.end());
      if (!grad)
         return evaluateExtended(xe.data(), nullptr);
      std::vector<double> ge(xe.size(), 0.0);
      const double v = evaluateExtended(xe.data(), ge.data());
      std::copy(ge.begin(), ge.begin() + static_cast<std::ptrdiff_t>(n), grad);
      return v;
   }
   return evaluateExtended(x, grad);
}

double NLLKernel::evaluateExtended(const double *x, double *grad) const
{
   if (grad) {
      ++_gradCalls;
      std::fill(grad, grad + _names.size() + _fixed.size(), 0.0);
   } else {
      ++_valueCalls;
   }
   Kahan total;
   total.add(_constant);
   for (const auto &ch : _unbinned)
      total.add(unbinnedTerm(*ch, x, grad));
   for (const auto &ch : _binned)
      total.add(binnedTerm(*ch, x, grad));
   for (const auto &c : _constraints) {
      const double v = x[c.index], z = (v - c.mean) / c.sigma;
      double nll = 0.5 * z * z + std::log(c.sigma * std::sqrt(2.0 * M_PI));
      double dnll = z / c.sigma;
      if (std::isfinite(c.lo) || std::isfinite(c.hi)) {
         const double a = (c.lo - v) / c.sigma, b = (c.hi - v) / c.sigma;
         const double Z = normalProbability(a, b);
         nll += std::log(Z);
         dnll += (normalDensity(a) - normalDensity(b)) / (c.sigma * Z);
      }
      total.add(nll);
      if (grad)
         grad[c.index] += dnll;
   }
   return total.sum;
}

double NLLKernel::value(const double *x) const { return evaluate(x, nullptr); }

double NLLKernel::valueAndGradient(const double *x, double *grad) const { return evaluate(x, grad); }

std::vector<double> NLLKernel::gradient(const std::vector<double> &x) const
{
   if (x.size() != _names.size())
      throw std::invalid_argument(kernelName() + "gradient needs " + std::to_string(_names.size()) + " values, got " +
                                  std::to_string(x.size()));
   std::vector<double> g(x.size());
   evaluate(x.data(), g.data());
   return g;
}

void NLLKernel::hessian(const double *x, const double *steps, double *h) const
{
   const std::size_t n = _names.size();
   std::fill(h, h + n * n, 0.0);
   std::vector<double> xp(x, x + n), gp(n), gm(n);
   for (std::size_t j = 0; j < n; ++j) {
      const double step = steps[j];
      if (!(step > 0))
         continue;
      xp[j] = x[j] + step;
      evaluate(xp.data(), gp.data());
      xp[j] = x[j] - step;
      evaluate(xp.data(), gm.data());
      xp[j] = x[j];
      for (std::size_t i = 0; i < n; ++i)
         h[i * n + j] = (gp[i] - gm[i]) / (2.0 * step);
   }
   for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
         const double s = 0.5 * (h[i * n + j] + h[j * n + i]);
         h[i * n + j] = h[j * n + i] = (steps[i] > 0 && steps[j] > 0) ? s : 0.0;
      }
   }
}

std::vector<double> NLLKernel::hessian(const std::vector<double> &x, const std::vector<double> &steps) const
{
   if (x.size() != _names.size() || steps.size() != _names.size())
      throw std::invalid_argument(kernelName() + "hessian needs " + std::to_string(_names.size()) +
                                  " values and steps");
   std::vector<double> h(x.size() * x.size());
   hessian(x.data(), steps.data(), h.data());
   return h;
}

// ---------------------------------------------------------------- NLLFunction

NLLFunction::NLLFunction(const NLLKernel &kernel, double offset) : _kernel(&kernel), _offset(offset) {}

void NLLFunction::compute(const double *x) const
{
   const std::size_t n = _kernel->nParameters();
   if (_valid && std::equal(x, x + n, _x.begin()))
      return;
   _x.assign(x, x + n);
   _grad.assign(n, 0.0);
   ++_passes;
   _f = _kernel->valueAndGradient(x, _grad.data()) - _offset;
   _valid = true;
}

double NLLFunction::DoEval(const double *x) const
{
   compute(x);
   return _f;
}

double NLLFunction::DoDerivative(const double *x, unsigned int icoord) const
{
   compute(x);
   return _grad[icoord];
}

void NLLFunction::Gradient(const double *x, double *grad) const
{
   compute(x);
   std::copy(_grad.begin(), _grad.end(), grad);
}

void NLLFunction::attachHessian(ROOT::Math::Minimizer &minimizer, const std::vector<double> &steps)
{
   if (steps.size() != _kernel->nParameters())
      throw std::invalid_argument(kernelName() + "attachHessian needs one step per parameter");
   _hessSteps = steps;
   const NLLKernel *kernel = _kernel;
   const std::vector<double> *st = &_hessSteps;
   minimizer.SetHessianFunction([kernel, st](std::span<const double> x, double *h) {
      if (x.size() != kernel->nParameters())
         return false;
      kernel->hessian(x.data(), st->data(), h);
      return true;
   });
}

void NLLFunction::attachFixedHessian(ROOT::Math::Minimizer &minimizer, const std::vector<double> &hessian)
{
   const std::size_t n = _kernel->nParameters();
   if (hessian.size() != n * n)
      throw std::invalid_argument(kernelName() + "attachFixedHessian needs " + std::to_string(n * n) + " values");
   _fixedHess = hessian;
   const std::vector<double> *fixed = &_fixedHess;
   minimizer.SetHessianFunction([fixed, n](std::span<const double> x, double *h) {
      if (x.size() != n)
         return false;
      std::copy(fixed->begin(), fixed->end(), h);
      return true;
   });
}

void NLLFunction::FdF(const double *x, double &f, double *grad) const
{
   compute(x);
   f = _f;
   std::copy(_grad.begin(), _grad.end(), grad);
}

} // namespace RooEFT
