#include "RooEFT/RooEFTYield.h"

#include "RooEFT/RooEFTTemplatePdf.h"
#include "RooEFT/RooEFTUnbinnedPdf.h"

#include <stdexcept>

RooEFTYield::RooEFTYield(const char *name, const char *title, const RooEFTUnbinnedPdf &pdf, const char *process)
   : RooAbsReal(name, title), _theta("theta", "Wilson coefficients", this),
     _nuShape("nuShape", "shape nuisances", this), _nuNorm("nuNorm", "normalisation nuisances", this),
     _rates("rates", "rate modifiers", this), _model(pdf._ym),
     _process(process && *process ? static_cast<int>(pdf.processIndex(process)) : -1),
     _template("template", "binned-channel template pdf", this, false, false)
{
   _theta.add(pdf._theta);
   _nuShape.add(pdf._nuShape);
   _nuNorm.add(pdf._nuNorm);
   _rates.add(pdf._rates);
}

RooEFTYield::RooEFTYield(const char *name, const char *title, const RooEFTTemplatePdf &pdf, const char *process)
   : RooAbsReal(name, title), _theta("theta", "Wilson coefficients", this),
     _nuShape("nuShape", "shape nuisances", this), _nuNorm("nuNorm", "normalisation nuisances", this),
     _rates("rates", "rate modifiers", this),
     _template("template", "binned-channel template pdf", this, const_cast<RooEFTTemplatePdf &>(pdf), true, false),
     _templateProcess(process ? process : "")
{
   if (!_templateProcess.empty())
      pdf.processBinYields(process); // throws std::invalid_argument for an unknown process
}

RooEFTYield::RooEFTYield(const RooEFTYield &other, const char *name)
   : RooAbsReal(other, name), _theta("theta", this, other._theta), _nuShape("nuShape", this, other._nuShape),
     _nuNorm("nuNorm", this, other._nuNorm), _rates("rates", this, other._rates), _model(other._model),
     _process(other._process), _template("template", this, other._template), _templateProcess(other._templateProcess)
{
}

const RooEFTTemplatePdf *RooEFTYield::templatePdf() const
{
   return _template.absArg() ? static_cast<const RooEFTTemplatePdf *>(_template.absArg()) : nullptr;
}

double RooEFTYield::evaluate() const
{
   if (const RooEFTTemplatePdf *tpl = templatePdf())
      return tpl->processYield(_templateProcess.c_str());
   auto values = [](const RooListProxy &list) {
      std::vector<double> out(list.size());
      for (std::size_t i = 0; i < out.size(); ++i)
         out[i] = static_cast<const RooAbsReal &>(list[i]).getVal();
      return out;
   };
   const std::vector<double> theta = values(_theta), nuShape = values(_nuShape), nuNorm = values(_nuNorm),
                             rates = values(_rates);
   std::vector<double> m(RooEFT::Math::nTerms(theta.size()));
   RooEFT::Math::monomials(theta.data(), theta.size(), m.data());
   if (_process < 0)
      return _model.totalYield(m.data(), nuShape.data(), nuNorm.data(), rates.data());
   return _model.processYield(static_cast<std::size_t>(_process), m.data(), nuShape.data(), nuNorm.data(),
                              rates.data());
}
