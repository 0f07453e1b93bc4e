#ifdef __CLING__
// the `+` of the pragmas is ROOT's syntax, not an operator
// clang-format off
#pragma link off all globals;
#pragma link off all classes;
#pragma link off all functions;

#pragma link C++ class RooEFTONNXFunction+;
#pragma link C++ class RooEFTUnbinnedPdf+;
#pragma link C++ class RooEFTTemplatePdf+;
#pragma link C++ class RooEFTYield+;
#pragma link C++ struct RooEFT::YieldModel+;
#pragma link C++ class RooEFT::NLLKernel;
#pragma link C++ class RooEFT::NLLFunction;
#pragma link C++ function RooEFT::parseJsonStringList;
#pragma link C++ function RooEFT::parseJsonNumberMap;
#pragma link C++ function RooEFT::describeLayout;
#pragma link C++ function RooEFT::Math::code4Mult;
#pragma link C++ function RooEFT::Math::code1Mult;
#pragma link C++ function RooEFT::Math::code4Add;
#pragma link C++ function RooEFT::Math::monomials;
#pragma link C++ function RooEFT::Math::expInterp;
#pragma link C++ function RooEFT::Math::smoothStep;
#pragma link C++ function RooEFT::Math::ratioBatch;
// clang-format on
#endif
