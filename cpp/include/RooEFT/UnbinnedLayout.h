/// \file UnbinnedLayout.h
/// \brief Implementation detail of RooEFTUnbinnedPdf (not installed as API): where each per-event
/// quantity sits in the network output and in the cached columns, parsed once from the model's
/// metadata. Shared by the pdf and the NLL kernel.
#ifndef RooEFT_UnbinnedLayout_h
#define RooEFT_UnbinnedLayout_h

#include "RooEFT/RooEFTUnbinnedPdf.h"

#include <string>
#include <utility>
#include <vector>

/// Where each per-event quantity sits in the network output (−1: absent), parsed from metadata.
struct RooEFTUnbinnedPdf::Layout {
   std::vector<std::string> observables, coefficients, processes, systematics, outputs;
   std::size_t nT = 1;              ///< terms of the quadratic polynomial
   std::vector<std::size_t> procT;  ///< floats [π, r_1..] per process: nT if EFT, else 1
   std::vector<std::size_t> procK;  ///< shape nuisances stored per process: nShape or 0
   std::vector<int> fracCol;        ///< per process
   std::vector<int> termCol;        ///< nProc × nT (t = 0 unused)
   std::vector<int> upCol, downCol; ///< nProc × nShape
   std::size_t rowWidth = 0;        ///< floats per cached event
   std::vector<std::pair<std::string, double>> nominalRates;
};


#endif
