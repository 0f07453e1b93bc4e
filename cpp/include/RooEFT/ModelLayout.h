/// \file ModelLayout.h
/// \brief The interface of an ONNX model in the rooeft convention (docs/onnx_convention.md), read
/// once from its metadata: names, the output columns with their kind and indices, the canonical
/// term order, and where each per-event quantity of the unbinned pdf sits. Used by
/// RooEFTONNXFunction, RooEFTUnbinnedPdf and the NLL kernel; mirrored in Python by
/// `rooeft.onnx_convention.layout_description` (tests/test_model_layout.py checks the two agree).
#ifndef RooEFT_ModelLayout_h
#define RooEFT_ModelLayout_h

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace RooEFT {

class OnnxSession;

/// One output column `kind:<process>[:<name>[:<name>]]`, with indices into the layout's lists
/// (−1 where the kind has no such index).
struct ModelColumn {
   std::string name;      ///< as in `rooeft.outputs`
   std::string kind;      ///< frac, lin, quad, sysup, sysdown or score
   int process = -1;      ///< index in `processes`
   int coefficient = -1;  ///< lin, score: index in `coefficients`; quad: the smaller index a
   int coefficient2 = -1; ///< quad: the larger index b (a ≤ b)
   int term = -1;         ///< lin, quad: index of the term in the canonical order (Math::termIndex)
   int systematic = -1;   ///< sysup, sysdown: index in `systematics`
};

/// The model interface, immutable after construction. Reading never rejects a model (a model
/// without rooeft metadata has empty lists); `check` and `checkUnbinned` throw
/// `std::invalid_argument`s whose message starts with the owner's prefix (e.g.
/// "RooEFTUnbinnedPdf 'pdf': ").
class ModelLayout {
public:
   /// Read the metadata of `session`: names, and each output column's kind and indices (−1 for a
   /// name not in its list; an empty kind for a malformed column name).
   explicit ModelLayout(const OnnxSession &session);

   std::string convention;   ///< `rooeft.convention` (empty if absent)
   std::size_t nInputs = 0;  ///< input columns of the graph
   std::size_t nOutputs = 0; ///< output columns of the graph
   std::vector<std::string> observables, coefficients, processes, systematics, outputs;
   std::vector<std::pair<std::string, double>> nominalRates; ///< in metadata order
   std::vector<ModelColumn> columns;                         ///< one per output column

   // Where each per-event quantity sits in the network output (−1: absent).
   std::size_t nT = 1;              ///< terms of the quadratic polynomial
   std::vector<int> fracCol;        ///< per process
   std::vector<int> termCol;        ///< nProc × nT (t = 0 unused)
   std::vector<int> upCol, downCol; ///< nProc × nShape
   // Cached rows of the unbinned pdf: per process [π, r_1..r_{nT-1}] if EFT (else [π]), then
   // (A, B) per shape nuisance if the process has per-event systematics.
   std::vector<std::size_t> procT; ///< floats [π, r_1..] per process: nT if EFT, else 1
   std::vector<std::size_t> procK; ///< shape nuisances stored per process: nShape or 0
   std::size_t rowWidth = 0;       ///< floats per cached event

   /// Index of the output column `name`, or −1.
   int columnIndex(const std::string &name) const;
   /// Labels of the terms in canonical order: `sm`, `a`, `a*b` (as `rooeft.terms.term_labels`).
   std::vector<std::string> termLabels() const;
   /// The convention: version "1", as many observables and outputs as the graph has columns, and
   /// well-formed column names.
   void check(const std::string &owner) const;
   /// check(), and what the unbinned pdf needs beyond it: at least one process, known names in
   /// every non-score column, a `frac:` column per process when there are several, and
   /// sysup/sysdown in pairs.
   void checkUnbinned(const std::string &owner) const;
   /// Canonical text description (names, terms, nominal rates, per-column kind and indices).
   std::string describe() const;
};

/// The metadata value `json` of key `what` (e.g. "rooeft.observables") as a list of strings,
/// `["a", "b"]` (empty text: no list). Parsed by nlohmann/json (shipped with ROOT); malformed
/// JSON or another type throws a `std::runtime_error` naming `what`, the problem and the text.
std::vector<std::string> parseJsonStringList(const std::string &json, const std::string &what = "JSON metadata");
/// The metadata value `json` of key `what` as an object of numbers, `{"sig": 1.5}`, into (key,
/// value) pairs in the text's order (empty text: none). Errors as parseJsonStringList.
std::vector<std::pair<std::string, double>> parseJsonNumberMap(const std::string &json,
                                                               const std::string &what = "JSON metadata");

/// ModelLayout(...).describe() of a serialised model: the C++ side of the Python mirror
/// `rooeft.onnx_convention.layout_description`.
std::string describeLayout(const std::vector<unsigned char> &modelBytes);

} // namespace RooEFT

#endif
