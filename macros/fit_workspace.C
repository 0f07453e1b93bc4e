// Fit a rooeft workspace with plain ROOT: load libRooEFT, open the file, fit the ModelConfig's pdf
// (or the named pdf) to data_obs with Minuit2 and print the result.
//
//   root -l -b -q 'macros/fit_workspace.C("ws.root")'
//   root -l -b -q 'macros/fit_workspace.C("ws.root", "w", "pdf", "/path/to/libRooEFT.so")'
//
// The library path defaults to $ROOEFT_LIBRARY (set it with: export ROOEFT_LIBRARY=$(rooeft config --library)).
// Load the library *before* opening the file: ROOT must know the RooEFT classes when it reads them.

#include <RooAbsPdf.h>
#include <RooArgSet.h>
#include <RooFitResult.h>
#include <RooRealVar.h>
#include <RooStats/ModelConfig.h>
#include <RooWorkspace.h>
#include <TFile.h>
#include <TSystem.h>

#include <cstdlib>
#include <iostream>
#include <memory>

int fit_workspace(const char *path, const char *wsName = "w", const char *pdfName = "",
                  const char *library = "")
{
   std::string lib = *library ? library : (std::getenv("ROOEFT_LIBRARY") ? std::getenv("ROOEFT_LIBRARY") : "libRooEFT");
   if (gSystem->Load(lib.c_str()) < 0) {
      std::cerr << "fit_workspace: cannot load " << lib << " (pass its path or set ROOEFT_LIBRARY)" << std::endl;
      return 1;
   }
   std::unique_ptr<TFile> file(TFile::Open(path));
   if (!file || file->IsZombie()) {
      std::cerr << "fit_workspace: cannot open " << path << std::endl;
      return 1;
   }
   auto *ws = file->Get<RooWorkspace>(wsName);
   if (!ws) {
      std::cerr << "fit_workspace: no RooWorkspace '" << wsName << "' in " << path << std::endl;
      return 1;
   }
   RooAbsPdf *pdf = nullptr;
   auto *mc = dynamic_cast<RooStats::ModelConfig *>(ws->obj("ModelConfig"));
   if (*pdfName)
      pdf = ws->pdf(pdfName);
   else if (mc)
      pdf = mc->GetPdf();
   RooAbsData *data = ws->data("data_obs");
   if (!pdf || !data) {
      std::cerr << "fit_workspace: need a pdf (ModelConfig or by name) and data_obs" << std::endl;
      return 1;
   }
   RooArgSet globs;
   if (mc && mc->GetGlobalObservables())
      globs.add(*mc->GetGlobalObservables());
   std::unique_ptr<RooFitResult> res(pdf->fitTo(*data, RooFit::Extended(pdf->canBeExtended()), RooFit::Save(),
                                                RooFit::GlobalObservables(globs), RooFit::Minimizer("Minuit2"),
                                                RooFit::PrintLevel(-1), RooFit::EvalBackend("cpu")));
   std::cout << "fit status " << res->status() << ", covariance quality " << res->covQual()
             << ", -ln L = " << res->minNll() << std::endl;
   for (auto *arg : res->floatParsFinal()) {
      auto *v = static_cast<RooRealVar *>(arg);
      std::cout << "  " << v->GetName() << " = " << v->getVal() << " +/- " << v->getError() << std::endl;
   }
   return res->status();
}
