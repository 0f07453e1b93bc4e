/// \file RooEFTYield.h
/// \class RooEFTYield
/// \brief Expected events ν_tot(θ,ν) (or one process's ν_p) of a RooEFTUnbinnedPdf, as a function
/// of the parameters only.
///
/// It is the pdf's expected-events function in RooFit's vectorised backend (a binding to the pdf
/// itself would make RooFit treat the yield as event-dependent), and a convenient object to put
/// in a workspace, plot or scan ("expected signal yield at this θ").
///
/// ~~~{.py}
/// nsig = ROOT.RooEFTYield("nsig", "expected signal", pdf, "sig")
/// ~~~
#ifndef RooEFT_RooEFTYield_h
#define RooEFT_RooEFTYield_h

#include "RooEFT/YieldModel.h"

#include <RooAbsReal.h>
#include <RooListProxy.h>

class RooEFTUnbinnedPdf;

class RooEFTYield : public RooAbsReal {
public:
   RooEFTYield() = default;
   /// Total expected events of `pdf` (process = "") or of one of its processes.
   RooEFTYield(const char *name, const char *title, const RooEFTUnbinnedPdf &pdf, const char *process = "");
   RooEFTYield(const RooEFTYield &other, const char *name = nullptr);
   TObject *clone(const char *newname) const override { return new RooEFTYield(*this, newname); }

   /// Process index (−1: all processes).
   int process() const { return _process; }

protected:
   double evaluate() const override;

private:
   RooListProxy _theta;
   RooListProxy _nuShape;
   RooListProxy _nuNorm;
   RooListProxy _rates;
   RooEFT::YieldModel _model;
   int _process = -1;

   ClassDefOverride(RooEFTYield, 1)
};

#endif
