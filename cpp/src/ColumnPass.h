// The one pass over cached per-event columns that the NLL kernel and RooEFTUnbinnedPdf share for
// the integral over a normalisation sample (private to the library; implemented in NLLKernel.cxx).
#ifndef RooEFT_ColumnPass_h
#define RooEFT_ColumnPass_h

#include <cstddef>
#include <vector>

namespace RooEFT {
namespace Detail {

/// The per-process, per-term sums of a weighted sample at shape-nuisance coefficients `sysCoef`
/// (the per-call (ν_k, ν_k·S(ν_k)) of Math::ratioBatch): for each process p (in order) and term
/// t < procT[p], `sums = Σ_j w_j π_pj E_pj r_ptj` with r_p0 = 1 and E_pj the systematic factor
/// exp(Σ_k ν_k A_pkj + ν_k S(ν_k) B_pkj) (1 without shape columns). `cols` are the column-major
/// cached columns of `n` events (ModelLayout order, rowWidth per event). Then
/// `Σ_j w_j R_j = Σ_p μ_p Σ_t m_t(θ) sums_pt`. Computed by the NLL kernel's block pass
/// (NLLKernel::kBlock events per block summed in double, blocks combined in order with Kahan
/// sums) on `threads` threads; the result does not depend on the number of threads.
std::vector<double> termSums(const std::vector<std::size_t> &procT, const std::vector<std::size_t> &procK,
                             std::size_t rowWidth, const std::vector<float> &cols, std::size_t n,
                             const std::vector<double> &w, const double *sysCoef, unsigned threads = 1);

} // namespace Detail
} // namespace RooEFT

#endif
