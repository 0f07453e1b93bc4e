#include "RooEFT/ModelLayout.h"

#include "RooEFT/Math.h"
#include "RooEFT/OnnxSession.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace RooEFT {

namespace {
int indexIn(const std::vector<std::string> &v, const std::string &x)
{
   auto it = std::find(v.begin(), v.end(), x);
   return it == v.end() ? -1 : static_cast<int>(it - v.begin());
}

std::vector<std::string> splitColumn(const std::string &col)
{
   std::vector<std::string> parts;
   std::size_t start = 0;
   for (std::size_t pos; (pos = col.find(':', start)) != std::string::npos; start = pos + 1)
      parts.push_back(col.substr(start, pos - start));
   parts.push_back(col.substr(start));
   return parts;
}

[[noreturn]] void badMetadata(const std::string &what, const std::string &problem, const std::string &json)
{
   throw std::runtime_error("RooEFT: ONNX metadata '" + what + "': " + problem + " in: " + json);
}

/// ordered_json keeps the keys of an object in the text's order.
nlohmann::ordered_json parseMetadata(const std::string &json, const std::string &what)
{
   try {
      return nlohmann::ordered_json::parse(json);
   } catch (const nlohmann::ordered_json::parse_error &e) {
      badMetadata(what, std::string("malformed JSON (") + e.what() + ")", json);
   }
}

std::string joined(const char *key, const std::vector<std::string> &names)
{
   std::string s = key;
   s += ":";
   for (const auto &n : names)
      s += " " + n;
   return s + "\n";
}
} // namespace

ModelLayout::ModelLayout(const OnnxSession &s)
   : convention(s.metadata("rooeft.convention")), nInputs(s.nInputs()), nOutputs(s.nOutputs())
{
   auto list = [&s](const char *key) { return parseJsonStringList(s.metadata(key), key); };
   observables = list("rooeft.observables");
   coefficients = list("rooeft.coefficients");
   processes = list("rooeft.processes");
   systematics = list("rooeft.systematics");
   outputs = list("rooeft.outputs");
   nominalRates = parseJsonNumberMap(s.metadata("rooeft.nominal_rates"), "rooeft.nominal_rates");
   const std::size_t nP = processes.size(), nC = coefficients.size(), nS = systematics.size();
   nT = Math::nTerms(nC);
   fracCol.assign(nP, -1);
   termCol.assign(nP * nT, -1);
   upCol.assign(nP * nS, -1);
   downCol.assign(nP * nS, -1);
   columns.reserve(outputs.size());
   for (std::size_t j = 0; j < outputs.size(); ++j) {
      const std::string &name = outputs[j];
      const std::vector<std::string> parts = splitColumn(name);
      const std::string &kind = parts[0];
      const std::size_t expect = kind == "frac" ? 2 : kind == "quad" ? 4 : 3;
      ModelColumn c;
      c.name = name;
      if (parts.size() != expect || (kind != "frac" && kind != "lin" && kind != "quad" && kind != "sysup" &&
                                     kind != "sysdown" && kind != "score")) {
         columns.push_back(std::move(c)); // malformed: empty kind, reported by check()
         continue;
      }
      c.kind = kind;
      c.process = indexIn(processes, parts[1]);
      if (kind == "lin" || kind == "score") {
         c.coefficient = indexIn(coefficients, parts[2]);
         if (kind == "lin" && c.coefficient >= 0)
            c.term = 1 + c.coefficient;
      } else if (kind == "quad") {
         int a = indexIn(coefficients, parts[2]), b = indexIn(coefficients, parts[3]);
         if (a > b)
            std::swap(a, b);
         c.coefficient = a;
         c.coefficient2 = b;
         if (a >= 0)
            c.term = static_cast<int>(Math::termIndex(a, b, nC));
      } else if (kind != "frac") {
         c.systematic = indexIn(systematics, parts[2]);
      }
      const int jj = static_cast<int>(j);
      const bool known = c.process >= 0 && (kind == "frac" || c.term >= 0 || c.systematic >= 0);
      if (known) {
         const std::size_t p = c.process;
         if (kind == "frac")
            fracCol[p] = jj;
         else if (kind == "lin" || kind == "quad")
            termCol[p * nT + c.term] = jj;
         else if (kind != "score")
            (kind == "sysup" ? upCol : downCol)[p * nS + c.systematic] = jj;
      }
      columns.push_back(std::move(c));
   }
   procT.resize(nP);
   procK.resize(nP);
   rowWidth = 0;
   for (std::size_t p = 0; p < nP; ++p) {
      bool eft = false, sys = false;
      for (std::size_t t = 1; t < nT; ++t)
         eft = eft || termCol[p * nT + t] >= 0;
      for (std::size_t k = 0; k < nS; ++k)
         sys = sys || upCol[p * nS + k] >= 0;
      procT[p] = eft ? nT : 1;
      procK[p] = sys ? nS : 0;
      rowWidth += procT[p] + 2 * procK[p];
   }
}

int ModelLayout::columnIndex(const std::string &name) const { return indexIn(outputs, name); }

std::vector<std::string> ModelLayout::termLabels() const
{
   const std::size_t n = coefficients.size();
   std::vector<std::string> labels(nT);
   labels[0] = "sm";
   for (std::size_t a = 0; a < n; ++a) {
      labels[1 + a] = coefficients[a];
      for (std::size_t b = a; b < n; ++b)
         labels[Math::termIndex(a, b, n)] = coefficients[a] + "*" + coefficients[b];
   }
   return labels;
}

void ModelLayout::check(const std::string &owner) const
{
   if (convention != "1")
      throw std::invalid_argument(owner + "the ONNX model has no 'rooeft.convention' = \"1\" metadata: it "
                                          "is not a rooeft model (see docs/onnx_convention.md)");
   if (observables.size() != nInputs)
      throw std::invalid_argument(owner + "the model takes " + std::to_string(nInputs) +
                                  " input columns but its metadata names " + std::to_string(observables.size()) +
                                  " observables");
   if (outputs.size() != nOutputs)
      throw std::invalid_argument(owner + "the model has " + std::to_string(nOutputs) +
                                  " output columns but its metadata names " + std::to_string(outputs.size()));
   for (const auto &c : columns) {
      if (c.kind.empty())
         throw std::invalid_argument(owner + "malformed output column '" + c.name + "'");
   }
}

void ModelLayout::checkUnbinned(const std::string &owner) const
{
   check(owner);
   if (processes.empty())
      throw std::invalid_argument(owner + "the model's rooeft.processes metadata is empty");
   for (const auto &c : columns) {
      if (c.kind == "score")
         continue; // an observable for templates, not a term of the ratio
      const std::vector<std::string> parts = splitColumn(c.name);
      std::string unknown;
      if (c.process < 0)
         unknown = parts[1];
      else if ((c.kind == "lin" || c.kind == "quad") && indexIn(coefficients, parts[2]) < 0)
         unknown = parts[2];
      else if (c.kind == "quad" && indexIn(coefficients, parts[3]) < 0)
         unknown = parts[3];
      else if ((c.kind == "sysup" || c.kind == "sysdown") && c.systematic < 0)
         unknown = parts[2];
      else
         continue;
      throw std::invalid_argument(owner + "output column '" + c.name + "' names unknown '" + unknown + "'");
   }
   const std::size_t nP = processes.size(), nS = systematics.size();
   if (nP > 1) {
      for (std::size_t p = 0; p < nP; ++p) {
         if (fracCol[p] < 0)
            throw std::invalid_argument(owner + "the model has several processes but no 'frac:" + processes[p] +
                                        "' column");
      }
   }
   for (std::size_t i = 0; i < nP * nS; ++i) {
      if ((upCol[i] < 0) != (downCol[i] < 0))
         throw std::invalid_argument(owner + "process '" + processes[i / nS] + "', nuisance '" + systematics[i % nS] +
                                     "' has only one of sysup/sysdown");
   }
}

std::string ModelLayout::describe() const
{
   std::string s = "convention: 1\n";
   s += joined("observables", observables);
   s += joined("coefficients", coefficients);
   s += joined("processes", processes);
   s += joined("systematics", systematics);
   s += joined("terms", termLabels());
   s += "nominal_rates:";
   for (const auto &[proc, rate] : nominalRates) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", rate);
      s += " " + proc + "=" + buf;
   }
   s += "\n";
   for (std::size_t p = 0; p < processes.size(); ++p) {
      s += "process " + std::to_string(p) + " " + processes[p] + ": frac=" + std::to_string(fracCol[p]) +
           " terms=" + std::to_string(procT[p]) + " shape=" + std::to_string(procK[p]) + "\n";
   }
   s += "row_width: " + std::to_string(rowWidth) + "\n";
   for (std::size_t j = 0; j < columns.size(); ++j) {
      const ModelColumn &c = columns[j];
      s += "column " + std::to_string(j) + " " + c.name + ": kind=" + c.kind + " process=" + std::to_string(c.process);
      if (c.kind == "lin" || c.kind == "score")
         s += " coefficient=" + std::to_string(c.coefficient);
      if (c.kind == "quad")
         s += " coefficients=" + std::to_string(c.coefficient) + "," + std::to_string(c.coefficient2);
      if (c.kind == "lin" || c.kind == "quad")
         s += " term=" + std::to_string(c.term);
      if (c.kind == "sysup" || c.kind == "sysdown")
         s += " systematic=" + std::to_string(c.systematic);
      s += "\n";
   }
   return s;
}

std::vector<std::string> parseJsonStringList(const std::string &json, const std::string &what)
{
   std::vector<std::string> out;
   if (json.empty())
      return out;
   const auto j = parseMetadata(json, what);
   if (!j.is_array())
      badMetadata(what, std::string("expected a list of strings, got a JSON ") + j.type_name(), json);
   for (const auto &e : j) {
      if (!e.is_string())
         badMetadata(what, std::string("expected a list of strings, got an entry of type ") + e.type_name(), json);
      out.push_back(e.get<std::string>());
   }
   return out;
}

std::vector<std::pair<std::string, double>> parseJsonNumberMap(const std::string &json, const std::string &what)
{
   std::vector<std::pair<std::string, double>> out;
   if (json.empty())
      return out;
   const auto j = parseMetadata(json, what);
   if (!j.is_object())
      badMetadata(what, std::string("expected an object of numbers, got a JSON ") + j.type_name(), json);
   for (const auto &[key, value] : j.items()) {
      if (!value.is_number())
         badMetadata(what, "the value of '" + key + "' is a " + value.type_name() + ", expected a number", json);
      out.emplace_back(key, value.get<double>());
   }
   return out;
}

std::string describeLayout(const std::vector<unsigned char> &modelBytes)
{
   const ModelLayout layout{OnnxSession(modelBytes)};
   layout.check("RooEFT::describeLayout: ");
   return layout.describe();
}

} // namespace RooEFT
