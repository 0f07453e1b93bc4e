/// \file RooEFTYield.h
/// \class RooEFTYield
/// \brief Expected events ν_tot(θ,ν) (or one process's ν_p) of a RooEFTUnbinnedPdf or of a
/// RooEFTTemplatePdf, as a function of the parameters only.
///
/// It is the pdf's expected-events function in RooFit's vectorised backend (a binding to the pdf
/// itself would make RooFit treat the yield as event-dependent), and a convenient object to put
/// in a workspace, plot or scan ("expected signal yield at this θ").
///
/// For a binned channel it sums the process's bin yields (with the Barlow–Beeston γ's); it then
/// keeps a value link to the template pdf, whose proxies hold the parameters. The workspace builder
/// names these Combine's way, `n_exp_final_bin<channel>_proc_<process>`.
///
/// ~~~{.py}
/// nsig = ROOT.RooEFTYield("nsig", "expected signal", pdf, "sig")
/// ~~~
#ifndef RooEFT_RooEFTYield_h
#define RooEFT_RooEFTYield_h

#include "RooEFT/YieldModel.h"

#include <RooAbsReal.h>
#include <RooListProxy.h>
#include <RooRealProxy.h>

#include <string>

class RooEFTUnbinnedPdf;
class RooEFTTemplatePdf;

class RooEFTYield : public RooAbsReal {
public:
   RooEFTYield() = default;
   /// Total expected events of `pdf` (process = "") or of one of its processes.
   RooEFTYield(const char *name, const char *title, const RooEFTUnbinnedPdf &pdf, const char *process = "");
   /// Total expected events of a binned template pdf (process = "") or of one of its processes.
   RooEFTYield(const char *name, const char *title, const RooEFTTemplatePdf &pdf, const char *process = "");
   RooEFTYield(const RooEFTYield &other, const char *name = nullptr);
   TObject *clone(const char *newname) const override { return new RooEFTYield(*this, newname); }

   /// Process index (−1: all processes).
   int process() const { return _process; }
   /// Process name of a yield of a template pdf ("" for the total or an unbinned pdf's yield).
   const std::string &templateProcess() const { return _templateProcess; }
   /// The template pdf of a binned-channel yield (nullptr for an unbinned pdf's yield).
   const RooEFTTemplatePdf *templatePdf() const;

protected:
   double evaluate() const override;

private:
   RooListProxy _theta;
   RooListProxy _nuShape;
   RooListProxy _nuNorm;
   RooListProxy _rates;
   RooEFT::YieldModel _model;
   int _process = -1;
   RooRealProxy _template;       ///< binned-channel yield: the template pdf (empty otherwise)
   std::string _templateProcess; ///< its process ("" = all)

   ClassDefOverride(RooEFTYield, 2)
};

#endif
