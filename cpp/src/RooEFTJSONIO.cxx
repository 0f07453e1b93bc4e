/// \file RooEFTJSONIO.cxx
/// \brief HS3 JSON importers and exporters of the RooEFT classes for ROOT's RooJSONFactoryWSTool.
///
/// They are registered by a static initialiser when libRooEFT is loaded, so
/// `RooJSONFactoryWSTool(ws).exportJSON("ws.json")` and `importJSON` handle workspaces with
/// RooEFT objects without further set-up. The JSON layout of each class is documented in
/// docs/hs3.md. Every number needed to rebuild an object is written: short arrays as plain JSON
/// number lists, long ones (more than kInlineMax entries) as
/// `{"encoding": "base64", "dtype": "float64-le" | "float32-le", "size": n, "data": "..."}`
/// (the little-endian IEEE-754 bytes). The ONNX model travels as
/// `{"encoding": "base64", "format": "onnx", "size": nBytes, "data": "..."}`.
///
/// On import the objects are re-created through their public constructors and setters (which
/// validate everything again), in the order that reproduces the original object exactly.
#include "RooEFT/RooEFTONNXFunction.h"
#include "RooEFT/RooEFTTemplatePdf.h"
#include "RooEFT/RooEFTUnbinnedPdf.h"
#include "RooEFT/RooEFTYield.h"
#include "RooEFT/YieldModel.h"

#include <RooFit/Detail/JSONInterface.h>
#include <RooFitHS3/JSONIO.h>
#include <RooFitHS3/RooJSONFactoryWSTool.h>

#include <RooRealVar.h>
#include <RooWorkspace.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

using RooFit::Detail::JSONNode;

namespace RooEFT {

/// Read access to the configuration of the RooEFT classes (a friend of each; HS3 export only).
class HS3Access {
public:
   static const RooListProxy &observables(const RooEFTUnbinnedPdf &p) { return p._obs; }
   static const RooListProxy &coefficients(const RooEFTUnbinnedPdf &p) { return p._theta; }
   static const RooListProxy &shapeNuisances(const RooEFTUnbinnedPdf &p) { return p._nuShape; }
   static const RooListProxy &normNuisances(const RooEFTUnbinnedPdf &p) { return p._nuNorm; }
   static const RooListProxy &rateModifiers(const RooEFTUnbinnedPdf &p) { return p._rates; }
   static const YieldModel &yieldModel(const RooEFTUnbinnedPdf &p) { return p._ym; }
   static const std::vector<float> &normInputs(const RooEFTUnbinnedPdf &p) { return p._normInputs; }
   static const std::vector<double> &normWeights(const RooEFTUnbinnedPdf &p) { return p._normWeights; }

   static const RooAbsArg &observable(const RooEFTTemplatePdf &p) { return p._x.arg(); }
   static const RooListProxy &coefficients(const RooEFTTemplatePdf &p) { return p._theta; }
   static const RooListProxy &nuisances(const RooEFTTemplatePdf &p) { return p._nu; }
   static const RooListProxy &rateModifiers(const RooEFTTemplatePdf &p) { return p._rates; }
   static const RooListProxy &binParameters(const RooEFTTemplatePdf &p) { return p._gammas; }
   static const std::vector<std::string> &processes(const RooEFTTemplatePdf &p) { return p._procNames; }
   static const std::vector<double> &nominal(const RooEFTTemplatePdf &p) { return p._nominal; }
   static const std::vector<double> &terms(const RooEFTTemplatePdf &p) { return p._terms; }
   static const std::vector<int> &hasEFT(const RooEFTTemplatePdf &p) { return p._hasEFT; }
   static const std::vector<int> &shapeNu(const RooEFTTemplatePdf &p) { return p._shapeNu; }
   static const std::vector<int> &shapeProc(const RooEFTTemplatePdf &p) { return p._shapeProc; }
   static const std::vector<double> &shapeUp(const RooEFTTemplatePdf &p) { return p._shapeUp; }
   static const std::vector<double> &shapeDown(const RooEFTTemplatePdf &p) { return p._shapeDown; }
   static const std::vector<int> &normNu(const RooEFTTemplatePdf &p) { return p._normNu; }
   static const std::vector<int> &normProc(const RooEFTTemplatePdf &p) { return p._normProc; }
   static const std::vector<int> &normCode(const RooEFTTemplatePdf &p) { return p._normCode; }
   static const std::vector<double> &normUp(const RooEFTTemplatePdf &p) { return p._normUp; }
   static const std::vector<double> &normDown(const RooEFTTemplatePdf &p) { return p._normDown; }
   static const std::vector<int> &rateProcess(const RooEFTTemplatePdf &p) { return p._rateProcess; }

   static const RooListProxy &inputs(const RooEFTONNXFunction &f) { return f._inputs; }
};

} // namespace RooEFT

namespace {

using RooEFT::HS3Access;

constexpr std::size_t kInlineMax = 1024; ///< longer numeric arrays are written as base64

// ------------------------------------------------------------------------------------ errors
[[noreturn]] void fail(const std::string &cls, const std::string &name, const std::string &what)
{
   RooJSONFactoryWSTool::error("rooeft: " + cls + " '" + name + "': " + what);
}

// ------------------------------------------------------------------------------------ base64
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(const unsigned char *bytes, std::size_t n)
{
   std::string out;
   out.reserve(4 * ((n + 2) / 3));
   for (std::size_t i = 0; i < n; i += 3) {
      const std::uint32_t b0 = bytes[i];
      const std::uint32_t b1 = i + 1 < n ? bytes[i + 1] : 0u;
      const std::uint32_t b2 = i + 2 < n ? bytes[i + 2] : 0u;
      const std::uint32_t triple = (b0 << 16) | (b1 << 8) | b2;
      out.push_back(kAlphabet[(triple >> 18) & 63]);
      out.push_back(kAlphabet[(triple >> 12) & 63]);
      out.push_back(i + 1 < n ? kAlphabet[(triple >> 6) & 63] : '=');
      out.push_back(i + 2 < n ? kAlphabet[triple & 63] : '=');
   }
   return out;
}

/// Strict decoder: the length must be a multiple of 4, only the standard alphabet, '=' only as
/// the final one or two characters. Throws std::invalid_argument describing the first problem.
std::vector<unsigned char> base64Decode(const std::string &text)
{
   auto value = [](char c) -> int {
      if (c >= 'A' && c <= 'Z')
         return c - 'A';
      if (c >= 'a' && c <= 'z')
         return c - 'a' + 26;
      if (c >= '0' && c <= '9')
         return c - '0' + 52;
      if (c == '+')
         return 62;
      if (c == '/')
         return 63;
      return -1;
   };
   if (text.size() % 4 != 0)
      throw std::invalid_argument("corrupted base64: length " + std::to_string(text.size()) +
                                  " is not a multiple of 4");
   std::vector<unsigned char> out;
   out.reserve(text.size() / 4 * 3);
   for (std::size_t i = 0; i < text.size(); i += 4) {
      int v[4];
      int pad = 0;
      for (int k = 0; k < 4; ++k) {
         const char c = text[i + k];
         if (c == '=' && i + 4 == text.size() && k >= 2) {
            v[k] = 0;
            ++pad;
            continue;
         }
         if (pad > 0 || (v[k] = value(c)) < 0)
            throw std::invalid_argument("corrupted base64: invalid character at position " + std::to_string(i + k));
      }
      const std::uint32_t triple =
         (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) | (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
      out.push_back(static_cast<unsigned char>((triple >> 16) & 0xff));
      if (pad < 2)
         out.push_back(static_cast<unsigned char>((triple >> 8) & 0xff));
      if (pad < 1)
         out.push_back(static_cast<unsigned char>(triple & 0xff));
   }
   return out;
}

// ------------------------------------------------------------------------------- number arrays
bool bigEndianHost()
{
   const std::uint16_t one = 1;
   unsigned char first;
   std::memcpy(&first, &one, 1);
   return first == 0;
}

/// Bytes of `n` values in little-endian order.
template <class T>
std::vector<unsigned char> littleEndianBytes(const T *values, std::size_t n)
{
   std::vector<unsigned char> bytes(n * sizeof(T));
   if (n)
      std::memcpy(bytes.data(), values, bytes.size());
   if (bigEndianHost()) {
      for (std::size_t i = 0; i < n; ++i)
         std::reverse(bytes.begin() + i * sizeof(T), bytes.begin() + (i + 1) * sizeof(T));
   }
   return bytes;
}

template <class T>
constexpr const char *dtypeName()
{
   return sizeof(T) == 8 ? "float64-le" : "float32-le";
}

/// Write a numeric array: a plain list when short, a base64 object when long.
template <class T>
void writeArray(JSONNode &node, const std::vector<T> &values)
{
   if (values.size() <= kInlineMax) {
      node.set_seq();
      for (T v : values)
         node.append_child() << static_cast<double>(v);
      return;
   }
   node.set_map();
   node["encoding"] << "base64";
   node["dtype"] << dtypeName<T>();
   node["size"] << static_cast<int>(values.size());
   const auto bytes = littleEndianBytes(values.data(), values.size());
   node["data"] << base64Encode(bytes.data(), bytes.size());
}

struct Where {
   std::string cls, name;
};

const JSONNode &need(const Where &w, const JSONNode &node, const std::string &key)
{
   if (!node.has_child(key))
      fail(w.cls, w.name, "missing key '" + key + "'");
   return node[key];
}

/// Read a numeric array written by writeArray (either form).
template <class T>
std::vector<T> readArray(const Where &w, const JSONNode &node, const std::string &what)
{
   std::vector<T> out;
   if (node.is_seq()) {
      out.reserve(node.num_children());
      for (const auto &c : node.children())
         out.push_back(static_cast<T>(c.val_double()));
      return out;
   }
   if (!node.is_map() || !node.has_child("encoding") || node["encoding"].val() != "base64")
      fail(w.cls, w.name, "'" + what + "' must be a list of numbers or a base64 object");
   const std::string dtype = need(w, node, "dtype").val();
   if (dtype != dtypeName<T>())
      fail(w.cls, w.name, "'" + what + "' has dtype '" + dtype + "', expected '" + dtypeName<T>() + "'");
   const int size = need(w, node, "size").val_int();
   std::vector<unsigned char> bytes;
   try {
      bytes = base64Decode(need(w, node, "data").val());
   } catch (const std::invalid_argument &e) {
      fail(w.cls, w.name, "'" + what + "': " + e.what());
   }
   if (size < 0 || bytes.size() != static_cast<std::size_t>(size) * sizeof(T))
      fail(w.cls, w.name,
           "'" + what + "' decodes to " + std::to_string(bytes.size()) + " bytes, expected " + std::to_string(size) +
              " values of " + std::to_string(sizeof(T)) + " bytes");
   if (bigEndianHost()) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(size); ++i)
         std::reverse(bytes.begin() + i * sizeof(T), bytes.begin() + (i + 1) * sizeof(T));
   }
   out.resize(size);
   if (size > 0)
      std::memcpy(out.data(), bytes.data(), bytes.size());
   return out;
}

void writeModel(JSONNode &node, const std::vector<unsigned char> &bytes)
{
   node.set_map();
   node["encoding"] << "base64";
   node["format"] << "onnx";
   node["size"] << static_cast<int>(bytes.size());
   node["data"] << base64Encode(bytes.data(), bytes.size());
}

std::vector<unsigned char> readModel(const Where &w, const JSONNode &elem)
{
   const JSONNode &node = need(w, elem, "model");
   if (!node.is_map() || !node.has_child("encoding") || node["encoding"].val() != "base64")
      fail(w.cls, w.name, "'model' must be an object with \"encoding\": \"base64\"");
   std::vector<unsigned char> bytes;
   try {
      bytes = base64Decode(need(w, node, "data").val());
   } catch (const std::invalid_argument &e) {
      fail(w.cls, w.name, std::string("ONNX model: ") + e.what());
   }
   if (node.has_child("size") && bytes.size() != static_cast<std::size_t>(node["size"].val_int()))
      fail(w.cls, w.name,
           "ONNX model decodes to " + std::to_string(bytes.size()) + " bytes but 'size' says " + node["size"].val());
   if (bytes.empty())
      fail(w.cls, w.name, "the ONNX model is empty");
   return bytes;
}

void writeNames(JSONNode &node, const RooAbsCollection &list)
{
   node.set_seq();
   for (const RooAbsArg *a : list)
      node.append_child() << a->GetName();
}

std::vector<std::string> readNames(const Where &w, const JSONNode &elem, const std::string &key)
{
   const JSONNode &node = need(w, elem, key);
   if (!node.is_seq())
      fail(w.cls, w.name, "'" + key + "' must be a list of names");
   std::vector<std::string> out;
   for (const auto &c : node.children())
      out.push_back(c.val());
   return out;
}

/// The workspace objects named in `names`, importing them from the JSON when needed.
template <class T>
RooArgList requestList(RooJSONFactoryWSTool *tool, const Where &w, const std::vector<std::string> &names)
{
   RooArgList out;
   for (const auto &n : names)
      out.add(*tool->request<T>(n, w.name));
   return out;
}

template <class T>
RooArgList requestList(RooJSONFactoryWSTool *tool, const Where &w, const JSONNode &elem, const std::string &key)
{
   return requestList<T>(tool, w, readNames(w, elem, key));
}

/// Call a RooEFT setter and turn its std::invalid_argument into a tool error naming the object.
template <class F>
void guarded(const Where &w, F &&f)
{
   try {
      f();
   } catch (const std::invalid_argument &e) {
      fail(w.cls, w.name, e.what());
   }
}

// ---------------------------------------------------------------------- RooEFTUnbinnedPdf
const std::string kUnbinnedType = "rooeft_unbinned_pdf";
const std::string kTemplateType = "rooeft_template_pdf";
const std::string kOnnxType = "rooeft_onnx_function";
const std::string kYieldType = "rooeft_yield";

class UnbinnedExporter : public RooFit::JSONIO::Exporter {
public:
   const std::string &key() const override { return kUnbinnedType; }
   bool exportObject(RooJSONFactoryWSTool *, const RooAbsArg *arg, JSONNode &elem) const override
   {
      const auto &pdf = static_cast<const RooEFTUnbinnedPdf &>(*arg);
      const RooEFT::YieldModel &ym = HS3Access::yieldModel(pdf);
      const auto &procs = pdf.processes();
      const std::size_t nP = procs.size(), nT = ym.nT, nS = ym.nShape;
      elem["type"] << key();
      writeNames(elem["observables"], HS3Access::observables(pdf));
      writeNames(elem["coefficients"], HS3Access::coefficients(pdf));
      writeNames(elem["shape_nuisances"], HS3Access::shapeNuisances(pdf));
      writeModel(elem["model"], pdf.modelBytes());
      elem["processes"].fill_seq(procs);
      writeArray(elem["yields"], ym.yields);
      auto &xs = elem["cross_sections"].set_seq();
      for (std::size_t p = 0; p < nP; ++p)
         writeArray(xs.append_child(), std::vector<double>(ym.xsec.begin() + p * nT, ym.xsec.begin() + (p + 1) * nT));
      auto &sne = elem["shape_norm_effects"].set_seq();
      for (std::size_t p = 0; p < nP; ++p) {
         for (std::size_t k = 0; k < nS; ++k) {
            auto &e = sne.append_child().set_map();
            e["process"] << procs[p];
            e["nuisance"] << HS3Access::shapeNuisances(pdf)[k].GetName();
            e["kappa_up"] << ym.shapeUp[p * nS + k];
            e["kappa_down"] << ym.shapeDown[p * nS + k];
         }
      }
      auto &norm = elem["norm_systematics"].set_seq();
      for (std::size_t j = 0; j < ym.normCode.size(); ++j) {
         auto &e = norm.append_child().set_map();
         e["nuisance"] << HS3Access::normNuisances(pdf)[j].GetName();
         e["code"] << ym.normCode[j];
         writeArray(e["kappa_up"], std::vector<double>(ym.normUp.begin() + j * nP, ym.normUp.begin() + (j + 1) * nP));
         writeArray(e["kappa_down"],
                    std::vector<double>(ym.normDown.begin() + j * nP, ym.normDown.begin() + (j + 1) * nP));
      }
      auto &rates = elem["rate_modifiers"].set_seq();
      for (std::size_t r = 0; r < ym.rateProcess.size(); ++r) {
         auto &e = rates.append_child().set_map();
         e["process"] << procs[ym.rateProcess[r]];
         e["parameter"] << HS3Access::rateModifiers(pdf)[r].GetName();
      }
      const auto &w = HS3Access::normWeights(pdf);
      if (!w.empty()) {
         auto &s = elem["normalisation_sample"].set_map();
         s["events"] << static_cast<int>(w.size());
         writeArray(s["inputs"], HS3Access::normInputs(pdf));
         writeArray(s["weights"], w);
      }
      return true;
   }
};

class UnbinnedImporter : public RooFit::JSONIO::Importer {
public:
   bool importArg(RooJSONFactoryWSTool *tool, const JSONNode &elem) const override
   {
      const Where w{"RooEFTUnbinnedPdf", RooJSONFactoryWSTool::name(elem)};
      const std::vector<unsigned char> model = readModel(w, elem);
      const RooArgList obs = requestList<RooRealVar>(tool, w, elem, "observables");
      const RooArgList coefs = requestList<RooAbsReal>(tool, w, elem, "coefficients");
      const RooArgList shapes = requestList<RooAbsReal>(tool, w, elem, "shape_nuisances");
      std::unique_ptr<RooEFTUnbinnedPdf> pdf;
      guarded(w, [&] {
         pdf = std::make_unique<RooEFTUnbinnedPdf>(w.name.c_str(), w.name.c_str(), model, obs, coefs, shapes);
      });
      const std::vector<std::string> procs = readNames(w, elem, "processes");
      if (procs != pdf->processes())
         fail(w.cls, w.name, "'processes' does not match the ONNX model's rooeft.processes metadata");
      const std::size_t nP = procs.size();
      const auto yields = readArray<double>(w, need(w, elem, "yields"), "yields");
      const JSONNode &xs = need(w, elem, "cross_sections");
      if (yields.size() != nP || !xs.is_seq() || xs.num_children() != nP)
         fail(w.cls, w.name, "'yields' and 'cross_sections' need one entry per process");
      for (std::size_t p = 0; p < nP; ++p) {
         const auto ratios = readArray<double>(w, xs.child(p), "cross_sections");
         guarded(w, [&] {
            pdf->setYield(procs[p].c_str(), yields[p]);
            pdf->setCrossSection(procs[p].c_str(), ratios);
         });
      }
      for (const auto &e : need(w, elem, "shape_norm_effects").children()) {
         guarded(w, [&] {
            pdf->setShapeNormEffect(need(w, e, "process").val().c_str(), need(w, e, "nuisance").val().c_str(),
                                    need(w, e, "kappa_up").val_double(), need(w, e, "kappa_down").val_double());
         });
      }
      for (const auto &e : need(w, elem, "norm_systematics").children()) {
         auto *nu = tool->request<RooAbsReal>(need(w, e, "nuisance").val(), w.name);
         const auto up = readArray<double>(w, need(w, e, "kappa_up"), "kappa_up");
         const auto down = readArray<double>(w, need(w, e, "kappa_down"), "kappa_down");
         const int code = need(w, e, "code").val_int();
         guarded(w, [&] { pdf->addNormSystematic(*nu, up, down, code); });
      }
      for (const auto &e : need(w, elem, "rate_modifiers").children()) {
         auto *mu = tool->request<RooAbsReal>(need(w, e, "parameter").val(), w.name);
         guarded(w, [&] { pdf->setRateModifier(need(w, e, "process").val().c_str(), *mu); });
      }
      // written by earlier versions; the normalisation sample, when present, took precedence
      if (elem.has_child("learned_normalisation") && !elem.has_child("normalisation_sample"))
         fail(w.cls, w.name,
              "'learned_normalisation' (the closed-form normalisation of earlier rooeft versions) is no longer "
              "supported: the normalisation is the 'normalisation_sample'; rebuild the workspace and export it again");
      if (const JSONNode *s = elem.find("normalisation_sample")) {
         const auto inputs = readArray<float>(w, need(w, *s, "inputs"), "normalisation_sample.inputs");
         const auto weights = readArray<double>(w, need(w, *s, "weights"), "normalisation_sample.weights");
         if (s->has_child("events") && weights.size() != static_cast<std::size_t>((*s)["events"].val_int()))
            fail(w.cls, w.name, "normalisation sample: 'events' does not match the number of weights");
         guarded(w, [&] { pdf->setNormalisationSample(inputs, weights); });
      }
      tool->wsImport(*pdf);
      return true;
   }
};

// ---------------------------------------------------------------------- RooEFTTemplatePdf
class TemplateExporter : public RooFit::JSONIO::Exporter {
public:
   const std::string &key() const override { return kTemplateType; }
   bool exportObject(RooJSONFactoryWSTool *, const RooAbsArg *arg, JSONNode &elem) const override
   {
      const auto &pdf = static_cast<const RooEFTTemplatePdf &>(*arg);
      const std::size_t nB = pdf.nBins();
      const std::size_t nT = RooEFT::Math::nTerms(HS3Access::coefficients(pdf).size());
      const auto &procs = HS3Access::processes(pdf);
      const auto &nu = HS3Access::nuisances(pdf);
      const auto &nominal = HS3Access::nominal(pdf);
      const auto &terms = HS3Access::terms(pdf);
      elem["type"] << key();
      elem["observable"] << HS3Access::observable(pdf).GetName();
      writeArray(elem["edges"], pdf.edges());
      writeNames(elem["coefficients"], HS3Access::coefficients(pdf));
      writeNames(elem["nuisances"], nu);
      auto &pn = elem["processes"].set_seq();
      for (std::size_t p = 0; p < procs.size(); ++p) {
         auto &e = pn.append_child().set_map();
         e["name"] << procs[p];
         writeArray(e["nominal"], std::vector<double>(nominal.begin() + p * nB, nominal.begin() + (p + 1) * nB));
         if (HS3Access::hasEFT(pdf)[p])
            writeArray(e["eft_terms"],
                       std::vector<double>(terms.begin() + p * nB * nT, terms.begin() + (p + 1) * nB * nT));
      }
      auto &shapes = elem["shape_systematics"].set_seq();
      const auto &sUp = HS3Access::shapeUp(pdf), &sDown = HS3Access::shapeDown(pdf);
      for (std::size_t e = 0; e < HS3Access::shapeNu(pdf).size(); ++e) {
         auto &s = shapes.append_child().set_map();
         s["nuisance"] << nu[HS3Access::shapeNu(pdf)[e]].GetName();
         s["process"] << procs[HS3Access::shapeProc(pdf)[e]];
         writeArray(s["up"], std::vector<double>(sUp.begin() + e * nB, sUp.begin() + (e + 1) * nB));
         writeArray(s["down"], std::vector<double>(sDown.begin() + e * nB, sDown.begin() + (e + 1) * nB));
      }
      auto &norms = elem["norm_systematics"].set_seq();
      for (std::size_t e = 0; e < HS3Access::normNu(pdf).size(); ++e) {
         auto &s = norms.append_child().set_map();
         s["nuisance"] << nu[HS3Access::normNu(pdf)[e]].GetName();
         s["process"] << procs[HS3Access::normProc(pdf)[e]];
         s["kappa_up"] << HS3Access::normUp(pdf)[e];
         s["kappa_down"] << HS3Access::normDown(pdf)[e];
         s["code"] << HS3Access::normCode(pdf)[e];
      }
      auto &rates = elem["rate_modifiers"].set_seq();
      for (std::size_t r = 0; r < HS3Access::rateProcess(pdf).size(); ++r) {
         auto &s = rates.append_child().set_map();
         s["process"] << procs[HS3Access::rateProcess(pdf)[r]];
         s["parameter"] << HS3Access::rateModifiers(pdf)[r].GetName();
      }
      if (!HS3Access::binParameters(pdf).empty())
         writeNames(elem["bin_parameters"], HS3Access::binParameters(pdf));
      return true;
   }
};

class TemplateImporter : public RooFit::JSONIO::Importer {
public:
   bool importArg(RooJSONFactoryWSTool *tool, const JSONNode &elem) const override
   {
      const Where w{"RooEFTTemplatePdf", RooJSONFactoryWSTool::name(elem)};
      auto *x = tool->request<RooRealVar>(need(w, elem, "observable").val(), w.name);
      const auto edges = readArray<double>(w, need(w, elem, "edges"), "edges");
      const RooArgList coefs = requestList<RooAbsReal>(tool, w, elem, "coefficients");
      const std::vector<std::string> nuNames = readNames(w, elem, "nuisances");
      std::unique_ptr<RooEFTTemplatePdf> pdf;
      guarded(w, [&] { pdf = std::make_unique<RooEFTTemplatePdf>(w.name.c_str(), w.name.c_str(), *x, edges, coefs); });
      for (const auto &e : need(w, elem, "processes").children()) {
         const auto nominal = readArray<double>(w, need(w, e, "nominal"), "nominal");
         std::vector<double> terms;
         if (const JSONNode *t = e.find("eft_terms"))
            terms = readArray<double>(w, *t, "eft_terms");
         guarded(w, [&] { pdf->addProcess(need(w, e, "name").val().c_str(), nominal, terms); });
      }
      // Shape and normalisation systematics are replayed as one merge of the two lists that
      // registers the nuisances in the exported order ('nuisances'), so that the rebuilt object
      // is identical to the original one, not only equivalent.
      std::deque<const JSONNode *> shapes, norms;
      for (const auto &e : need(w, elem, "shape_systematics").children())
         shapes.push_back(&e);
      for (const auto &e : need(w, elem, "norm_systematics").children())
         norms.push_back(&e);
      std::vector<std::string> registered;
      auto known = [&](const JSONNode *e) {
         return std::find(registered.begin(), registered.end(), need(w, *e, "nuisance").val()) != registered.end();
      };
      auto addShape = [&](const JSONNode &e) {
         auto *nu = tool->request<RooAbsReal>(need(w, e, "nuisance").val(), w.name);
         const auto up = readArray<double>(w, need(w, e, "up"), "up");
         const auto down = readArray<double>(w, need(w, e, "down"), "down");
         guarded(w, [&] { pdf->addShapeSystematic(*nu, need(w, e, "process").val().c_str(), up, down); });
      };
      auto addNorm = [&](const JSONNode &e) {
         auto *nu = tool->request<RooAbsReal>(need(w, e, "nuisance").val(), w.name);
         guarded(w, [&] {
            pdf->addNormSystematic(*nu, need(w, e, "process").val().c_str(), need(w, e, "kappa_up").val_double(),
                                   need(w, e, "kappa_down").val_double(), need(w, e, "code").val_int());
         });
      };
      while (!shapes.empty() || !norms.empty()) {
         bool takeShape;
         if (norms.empty())
            takeShape = true;
         else if (shapes.empty())
            takeShape = false;
         else if (known(shapes.front()))
            takeShape = true;
         else if (known(norms.front()))
            takeShape = false;
         else // both heads introduce a nuisance: the one listed next in 'nuisances' goes first
            takeShape = registered.size() < nuNames.size() &&
                        need(w, *shapes.front(), "nuisance").val() == nuNames[registered.size()];
         const JSONNode *e = takeShape ? shapes.front() : norms.front();
         if (!known(e))
            registered.push_back(need(w, *e, "nuisance").val());
         takeShape ? addShape(*e) : addNorm(*e);
         (takeShape ? shapes : norms).pop_front();
      }
      if (registered != nuNames)
         fail(w.cls, w.name, "'nuisances' does not list the nuisances of the systematics in order of first use");
      for (const auto &e : need(w, elem, "rate_modifiers").children()) {
         auto *mu = tool->request<RooAbsReal>(need(w, e, "parameter").val(), w.name);
         guarded(w, [&] { pdf->setRateModifier(need(w, e, "process").val().c_str(), *mu); });
      }
      if (elem.has_child("bin_parameters")) {
         const RooArgList gammas = requestList<RooAbsReal>(tool, w, elem, "bin_parameters");
         guarded(w, [&] { pdf->setBinParameters(gammas); });
      }
      tool->wsImport(*pdf);
      return true;
   }
};

// ---------------------------------------------------------------------- RooEFTONNXFunction
class OnnxExporter : public RooFit::JSONIO::Exporter {
public:
   const std::string &key() const override { return kOnnxType; }
   bool exportObject(RooJSONFactoryWSTool *, const RooAbsArg *arg, JSONNode &elem) const override
   {
      const auto &f = static_cast<const RooEFTONNXFunction &>(*arg);
      elem["type"] << key();
      writeNames(elem["inputs"], HS3Access::inputs(f));
      elem["output_index"] << f.outputIndex();
      writeModel(elem["model"], f.modelBytes());
      return true;
   }
};

class OnnxImporter : public RooFit::JSONIO::Importer {
public:
   bool importArg(RooJSONFactoryWSTool *tool, const JSONNode &elem) const override
   {
      const Where w{"RooEFTONNXFunction", RooJSONFactoryWSTool::name(elem)};
      const std::vector<unsigned char> model = readModel(w, elem);
      const RooArgList inputs = requestList<RooAbsReal>(tool, w, elem, "inputs");
      const int index = need(w, elem, "output_index").val_int();
      std::unique_ptr<RooEFTONNXFunction> f;
      guarded(w,
              [&] { f = std::make_unique<RooEFTONNXFunction>(w.name.c_str(), w.name.c_str(), model, inputs, index); });
      tool->wsImport(*f);
      return true;
   }
};

// ---------------------------------------------------------------------- RooEFTYield
/// The unbinned pdf a RooEFTYield was made from. The yield keeps a copy of the pdf's yield model
/// and parameter lists but no link to the pdf, so the workspace is searched for a pdf with the same
/// parameters whose yield (of the same process) agrees exactly at the current parameter values and
/// at a few fixed points inside the parameter ranges (values restored afterwards).
const RooEFTUnbinnedPdf *findUnbinnedSource(RooJSONFactoryWSTool *tool, const RooEFTYield &y)
{
   RooWorkspace *ws = tool->workspace();
   if (!ws)
      return nullptr;
   RooArgSet servers;
   for (RooAbsArg *a : y.servers())
      servers.add(*a);
   std::vector<RooRealVar *> vars;
   for (RooAbsArg *a : servers) {
      if (auto *v = dynamic_cast<RooRealVar *>(a))
         vars.push_back(v);
   }
   std::vector<double> saved;
   for (RooRealVar *v : vars)
      saved.push_back(v->getVal());
   auto setPoint = [&](int k) { // k = 0: the current values; k > 0: fixed points in the ranges
      for (std::size_t i = 0; i < vars.size(); ++i) {
         RooRealVar &v = *vars[i];
         if (k == 0) {
            v.setVal(saved[i]);
            continue;
         }
         const double frac = std::fmod(0.1234 * k + 0.3719 * static_cast<double>(i + 1), 1.0);
         double lo = v.getMin(), hi = v.getMax();
         if (!std::isfinite(lo) || !std::isfinite(hi)) {
            lo = saved[i] - 0.5;
            hi = saved[i] + 0.5;
         }
         v.setVal(std::clamp(lo + frac * (hi - lo), v.getMin(), v.getMax()));
      }
   };
   const RooEFTUnbinnedPdf *found = nullptr;
   for (RooAbsArg *a : ws->components()) {
      const auto *pdf = dynamic_cast<const RooEFTUnbinnedPdf *>(a);
      if (!pdf || y.process() >= static_cast<int>(HS3Access::yieldModel(*pdf).nProc))
         continue;
      RooArgSet params;
      for (const RooListProxy *l : {&HS3Access::coefficients(*pdf), &HS3Access::shapeNuisances(*pdf),
                                    &HS3Access::normNuisances(*pdf), &HS3Access::rateModifiers(*pdf)})
         params.add(*l, true);
      if (!params.equals(servers))
         continue;
      RooEFTYield probe("probe", "probe", *pdf, y.process() < 0 ? "" : pdf->processes()[y.process()].c_str());
      bool same = true;
      for (int k = 0; same && k < 4; ++k) {
         setPoint(k);
         same = probe.getVal() == y.getVal();
      }
      setPoint(0);
      if (same) {
         found = pdf;
         break;
      }
   }
   return found;
}

class YieldExporter : public RooFit::JSONIO::Exporter {
public:
   const std::string &key() const override { return kYieldType; }
   bool autoExportDependants() const override { return false; }
   bool exportObject(RooJSONFactoryWSTool *tool, const RooAbsArg *arg, JSONNode &elem) const override
   {
      const auto &y = static_cast<const RooEFTYield &>(*arg);
      elem["type"] << key();
      if (const RooEFTTemplatePdf *tpl = y.templatePdf()) { // a binned channel's yield
         elem["pdf"] << tpl->GetName();
         elem["process"] << y.templateProcess();
         tool->queueExport(*tpl);
         return true;
      }
      const RooEFTUnbinnedPdf *pdf = findUnbinnedSource(tool, y);
      if (!pdf)
         fail("RooEFTYield", y.GetName(),
              "cannot export: no RooEFTUnbinnedPdf with the same parameters and yields is in the workspace "
              "(a yield is exported as {pdf, process} and rebuilt from its pdf)");
      elem["pdf"] << pdf->GetName();
      elem["process"] << (y.process() < 0 ? std::string() : pdf->processes()[y.process()]);
      tool->queueExport(*pdf);
      return true;
   }
};

class YieldImporter : public RooFit::JSONIO::Importer {
public:
   bool importArg(RooJSONFactoryWSTool *tool, const JSONNode &elem) const override
   {
      const Where w{"RooEFTYield", RooJSONFactoryWSTool::name(elem)};
      auto *pdf = tool->request<RooAbsPdf>(need(w, elem, "pdf").val(), w.name);
      const std::string process = need(w, elem, "process").val();
      std::unique_ptr<RooEFTYield> y;
      if (auto *unb = dynamic_cast<RooEFTUnbinnedPdf *>(pdf)) {
         guarded(w, [&] { y = std::make_unique<RooEFTYield>(w.name.c_str(), w.name.c_str(), *unb, process.c_str()); });
      } else if (auto *tpl = dynamic_cast<RooEFTTemplatePdf *>(pdf)) {
         guarded(w, [&] { y = std::make_unique<RooEFTYield>(w.name.c_str(), w.name.c_str(), *tpl, process.c_str()); });
      } else {
         fail(w.cls, w.name,
              std::string("'pdf' names a ") + pdf->ClassName() + ", expected RooEFTUnbinnedPdf or RooEFTTemplatePdf");
      }
      tool->wsImport(*y);
      return true;
   }
};

// ---------------------------------------------------------------------- registration
/// Registers the importers and exporters when libRooEFT is loaded.
struct Registration {
   Registration()
   {
      using namespace RooFit::JSONIO;
      registerExporter<UnbinnedExporter>(RooEFTUnbinnedPdf::Class(), false);
      registerExporter<TemplateExporter>(RooEFTTemplatePdf::Class(), false);
      registerExporter<OnnxExporter>(RooEFTONNXFunction::Class(), false);
      registerExporter<YieldExporter>(RooEFTYield::Class(), false);
      registerImporter<UnbinnedImporter>(kUnbinnedType, false);
      registerImporter<TemplateImporter>(kTemplateType, false);
      registerImporter<OnnxImporter>(kOnnxType, false);
      registerImporter<YieldImporter>(kYieldType, false);
   }
};
const Registration gRegistration;

} // namespace
