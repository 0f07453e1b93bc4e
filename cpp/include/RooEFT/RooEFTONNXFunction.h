/// \file RooEFTONNXFunction.h
/// \class RooEFTONNXFunction
/// \brief A RooAbsReal whose value is output column `k` of an ONNX model evaluated on a list of
/// RooAbsReal inputs, with ONNX Runtime.
///
/// The model bytes are a persistent member, so a workspace holding the function is
/// self-contained; the ONNX Runtime session is transient, created on first use and again after
/// the object is read from a file. `evaluate()` (one event) and `doEval()` (one ONNX Runtime call
/// for a whole batch) share one code path; batch outputs are cached per input batch, so
/// re-evaluating on the same data with other parameter values never re-runs the network.
///
/// Cache and threading: the batch cache holds one batch per object (not shared with clones), keyed
/// by RooEFT::Detail::fingerprint of the input columns (rows, buffer addresses, a checksum of about
/// 64 rows spread over the batch); the scalar path is not cached. `_session` is built lazily on
/// first use, and the cache and `_nCalls` (shared with clones) change inside const functions
/// without a lock: RooFit evaluates a function from one thread, and concurrent calls on one object
/// or its clones are not supported.
///
/// C++:
/// ~~~{.cpp}
/// gSystem->Load("libRooEFT");
/// RooRealVar x("x", "x", 0, -5, 5), y("y", "y", 0, -5, 5);
/// RooEFTONNXFunction f("f", "f", "model.onnx", RooArgList(x, y), "lin:sig:cHW");
/// double v = f.getVal();
/// ~~~
/// Python:
/// ~~~{.py}
/// ROOT = rooeft.load_library()
/// f = ROOT.RooEFTONNXFunction("f", "f", "model.onnx", ROOT.RooArgList(x, y), 0)
/// ~~~
#ifndef RooEFT_RooEFTONNXFunction_h
#define RooEFT_RooEFTONNXFunction_h

#include <RooAbsReal.h>
#include <RooListProxy.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace RooEFT {
class OnnxSession;
class HS3Access;
} // namespace RooEFT

class RooEFTONNXFunction : public RooAbsReal {
public:
   RooEFTONNXFunction() = default;
   /// Output column `outputIndex` of the model in file `onnxPath`.
   RooEFTONNXFunction(const char *name, const char *title, const char *onnxPath, const RooArgList &inputs,
                      int outputIndex);
   /// Output column named `outputName` in the model's `rooeft.outputs` metadata.
   RooEFTONNXFunction(const char *name, const char *title, const char *onnxPath, const RooArgList &inputs,
                      const char *outputName);
   /// From serialised model bytes.
   RooEFTONNXFunction(const char *name, const char *title, const std::vector<unsigned char> &modelBytes,
                      const RooArgList &inputs, int outputIndex);
   RooEFTONNXFunction(const RooEFTONNXFunction &other, const char *name = nullptr);
   TObject *clone(const char *newname) const override { return new RooEFTONNXFunction(*this, newname); }

   /// Index of the output column this function returns.
   int outputIndex() const { return _outputIndex; }
   /// Number of output columns of the model.
   std::size_t nOutputs() const;
   /// The serialised ONNX model.
   const std::vector<unsigned char> &modelBytes() const { return _modelBytes; }
   /// Custom metadata of the model (empty if absent).
   std::string modelMetadata(const char *key) const;
   /// Evaluate all output columns for `n` rows of float inputs (row-major); for tests and tools.
   std::vector<float> evaluateRows(const std::vector<float> &rows) const;
   /// Number of ONNX Runtime calls made by this object and its clones (to verify caching).
   std::size_t networkCalls() const { return *_nCalls; }

protected:
   double evaluate() const override;
   void doEval(RooFit::EvalContext &ctx) const override;

private:
   friend class RooEFT::HS3Access; // reads the inputs for the HS3 JSON export (RooEFTJSONIO.cxx)
   void init(const RooArgList &inputs, int outputIndex);
   const RooEFT::OnnxSession &session() const;

   RooListProxy _inputs;                                  ///< network inputs, in the model's column order
   std::vector<unsigned char> _modelBytes;                ///< the ONNX model (persistent: self-contained workspace)
   int _outputIndex = 0;                                  ///< output column returned
   mutable std::shared_ptr<RooEFT::OnnxSession> _session; //! transient, rebuilt after reading
   mutable std::vector<std::uint64_t> _cacheKey;          //! fingerprint of the cached batch
   mutable std::vector<double> _cacheOut;                 //! cached output column
   mutable std::shared_ptr<std::size_t> _nCalls =
      std::make_shared<std::size_t>(0); //! ONNX Runtime calls, shared with clones

   ClassDefOverride(RooEFTONNXFunction, 1)
};

#endif
