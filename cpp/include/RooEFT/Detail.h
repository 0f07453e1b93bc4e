/// \file Detail.h
/// \brief Implementation helpers shared by the RooEFT classes (not part of the user API).
#ifndef RooEFT_Detail_h
#define RooEFT_Detail_h

#include <ROOT/RSpan.hxx>

#include <cstdint>
#include <cstring>
#include <vector>

namespace RooEFT {
namespace Detail {

/// Identity of a batch of input columns: the column pointers, the length, and a checksum of
/// about 64 rows spread over the batch (every max(1, n/64)-th row, plus the last). Used to decide
/// whether cached network outputs belong to the data RooFit passes (a new dataset, toy or Asimov
/// set gives a new fingerprint).
inline std::vector<std::uint64_t> fingerprint(const std::vector<std::span<const double>> &cols, std::size_t n)
{
   std::vector<std::uint64_t> fp;
   fp.reserve(cols.size() + 2);
   fp.push_back(n);
   double sum = 0.0;
   const std::size_t step = n > 64 ? n / 64 : 1;
   for (const auto &c : cols) {
      fp.push_back(reinterpret_cast<std::uintptr_t>(c.data()));
      for (std::size_t i = 0; i < n; i += step)
         sum += c[c.size() == 1 ? 0 : i] * static_cast<double>(i + 1);
      if (n > 0)
         sum += c[c.size() == 1 ? 0 : n - 1];
   }
   std::uint64_t bits;
   std::memcpy(&bits, &sum, sizeof bits);
   fp.push_back(bits);
   return fp;
}

/// Fill `out` (row-major, n × cols.size() floats) from RooFit input spans; spans of length 1
/// are broadcast (scalar inputs).
inline void gatherRows(const std::vector<std::span<const double>> &cols, std::size_t n, std::vector<float> &out)
{
   const std::size_t d = cols.size();
   out.resize(n * d);
   for (std::size_t j = 0; j < d; ++j) {
      const auto &c = cols[j];
      if (c.size() == 1) {
         for (std::size_t i = 0; i < n; ++i)
            out[i * d + j] = static_cast<float>(c[0]);
      } else {
         for (std::size_t i = 0; i < n; ++i)
            out[i * d + j] = static_cast<float>(c[i]);
      }
   }
}

/// Kahan (compensated) running sum: the sums over many events (normalisation sample, NLL kernel)
/// combine their partial sums with it, so their rounding does not grow with the number of terms.
struct KahanSum {
   double sum = 0.0, c = 0.0;
   void add(double v)
   {
      const double y = v - c;
      const double t = sum + y;
      c = (t - sum) - y;
      sum = t;
   }
};

} // namespace Detail
} // namespace RooEFT

#endif
