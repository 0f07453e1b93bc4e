#include "RooEFT/RooEFTONNXFunction.h"

#include "RooEFT/Detail.h"
#include "RooEFT/ModelLayout.h"
#include "RooEFT/OnnxSession.h"

#include <RooFit/EvalContext.h>

#include <algorithm>
#include <stdexcept>

RooEFTONNXFunction::RooEFTONNXFunction(const char *name, const char *title, const char *onnxPath,
                                       const RooArgList &inputs, int outputIndex)
   : RooAbsReal(name, title), _inputs("inputs", "network inputs", this),
     _modelBytes(RooEFT::OnnxSession::readFile(onnxPath))
{
   init(inputs, outputIndex);
}

RooEFTONNXFunction::RooEFTONNXFunction(const char *name, const char *title, const char *onnxPath,
                                       const RooArgList &inputs, const char *outputName)
   : RooAbsReal(name, title), _inputs("inputs", "network inputs", this),
     _modelBytes(RooEFT::OnnxSession::readFile(onnxPath))
{
   const std::string owner = std::string("RooEFTONNXFunction '") + name + "': ";
   const int k = RooEFT::ModelLayout(session()).columnIndex(outputName);
   if (k < 0)
      throw std::invalid_argument(owner + "the model '" + onnxPath + "' has no output column named '" + outputName +
                                  "' in its rooeft.outputs metadata");
   init(inputs, k);
}

RooEFTONNXFunction::RooEFTONNXFunction(const char *name, const char *title,
                                       const std::vector<unsigned char> &modelBytes, const RooArgList &inputs,
                                       int outputIndex)
   : RooAbsReal(name, title), _inputs("inputs", "network inputs", this), _modelBytes(modelBytes)
{
   init(inputs, outputIndex);
}

RooEFTONNXFunction::RooEFTONNXFunction(const RooEFTONNXFunction &other, const char *name)
   : RooAbsReal(other, name), _inputs("inputs", this, other._inputs), _modelBytes(other._modelBytes),
     _outputIndex(other._outputIndex), _session(other._session), _nCalls(other._nCalls)
{
}

void RooEFTONNXFunction::init(const RooArgList &inputs, int outputIndex)
{
   for (RooAbsArg *arg : inputs) {
      if (!dynamic_cast<RooAbsReal *>(arg))
         throw std::invalid_argument(std::string("RooEFTONNXFunction '") + GetName() + "': input '" + arg->GetName() +
                                     "' is not a RooAbsReal");
   }
   _inputs.add(inputs);
   const auto &s = session();
   if (s.nInputs() != static_cast<std::size_t>(inputs.size()))
      throw std::invalid_argument(std::string("RooEFTONNXFunction '") + GetName() + "': the model takes " +
                                  std::to_string(s.nInputs()) + " input columns but " + std::to_string(inputs.size()) +
                                  " RooFit inputs were given");
   if (outputIndex < 0 || static_cast<std::size_t>(outputIndex) >= s.nOutputs())
      throw std::invalid_argument(std::string("RooEFTONNXFunction '") + GetName() + "': output index " +
                                  std::to_string(outputIndex) + " is out of range: the model has " +
                                  std::to_string(s.nOutputs()) + " output columns");
   _outputIndex = outputIndex;
}

const RooEFT::OnnxSession &RooEFTONNXFunction::session() const
{
   if (!_session)
      _session = std::make_shared<RooEFT::OnnxSession>(_modelBytes);
   return *_session;
}

std::size_t RooEFTONNXFunction::nOutputs() const { return session().nOutputs(); }

std::string RooEFTONNXFunction::modelMetadata(const char *key) const { return session().metadata(key); }

std::vector<float> RooEFTONNXFunction::evaluateRows(const std::vector<float> &rows) const
{
   const auto &s = session();
   if (rows.size() % s.nInputs() != 0)
      throw std::invalid_argument("RooEFTONNXFunction::evaluateRows: input size " + std::to_string(rows.size()) +
                                  " is not a multiple of the model's " + std::to_string(s.nInputs()) + " columns");
   const std::size_t n = rows.size() / s.nInputs();
   std::vector<float> out(n * s.nOutputs());
   s.run(rows.data(), n, out.data());
   ++*_nCalls;
   return out;
}

namespace {
/// One code path for scalar and batch evaluation: run the network on `n` rows gathered from
/// `cols` and return output column `k` as doubles.
void runColumn(const RooEFT::OnnxSession &s, const std::vector<std::span<const double>> &cols, std::size_t n, int k,
               std::vector<double> &out)
{
   std::vector<float> in;
   RooEFT::Detail::gatherRows(cols, n, in);
   std::vector<float> all(n * s.nOutputs());
   s.run(in.data(), n, all.data());
   out.resize(n);
   for (std::size_t i = 0; i < n; ++i)
      out[i] = all[i * s.nOutputs() + k];
}
} // namespace

double RooEFTONNXFunction::evaluate() const
{
   std::vector<double> vals(_inputs.size());
   std::vector<std::span<const double>> cols;
   cols.reserve(_inputs.size());
   for (std::size_t j = 0; j < vals.size(); ++j) {
      vals[j] = static_cast<const RooAbsReal &>(_inputs[j]).getVal();
      cols.emplace_back(&vals[j], 1);
   }
   std::vector<double> out;
   runColumn(session(), cols, 1, _outputIndex, out);
   ++*_nCalls;
   return out[0];
}

void RooEFTONNXFunction::doEval(RooFit::EvalContext &ctx) const
{
   std::vector<std::span<const double>> cols;
   std::size_t n = 1;
   for (RooAbsArg *arg : _inputs) {
      cols.push_back(ctx.at(static_cast<RooAbsReal *>(arg)));
      n = std::max(n, cols.back().size());
   }
   auto key = RooEFT::Detail::fingerprint(cols, n);
   if (key != _cacheKey) {
      runColumn(session(), cols, n, _outputIndex, _cacheOut);
      ++*_nCalls;
      _cacheKey = std::move(key);
   }
   std::span<double> output = ctx.output();
   std::copy(_cacheOut.begin(), _cacheOut.begin() + output.size(), output.begin());
}
