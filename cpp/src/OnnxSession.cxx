// ONNX Runtime session wrapper: dlopen'ed C API, one float32 input and one float32 output.
#include "RooEFT/OnnxSession.h"

#include <onnxruntime_c_api.h>

#include <dlfcn.h>
#include <glob.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <stdexcept>

#ifndef ROOEFT_DEFAULT_ORT_LIBRARY
#define ROOEFT_DEFAULT_ORT_LIBRARY ""
#endif
#ifndef ROOEFT_ORT_HEADERS
#define ROOEFT_ORT_HEADERS "?"
#endif

namespace RooEFT {
namespace {

/// Releases any ONNX Runtime C handle with its matching Release* function: the deleter of
/// OrtPtr, so that every handle is owned by a std::unique_ptr from the moment it is created and
/// no error path (a thrown check()) leaks it.
struct OrtRelease {
   const OrtApi *api = nullptr;
   void operator()(OrtStatus *p) const { api->ReleaseStatus(p); }
   void operator()(OrtSessionOptions *p) const { api->ReleaseSessionOptions(p); }
   void operator()(OrtSession *p) const { api->ReleaseSession(p); }
   void operator()(OrtMemoryInfo *p) const { api->ReleaseMemoryInfo(p); }
   void operator()(OrtTypeInfo *p) const { api->ReleaseTypeInfo(p); }
   void operator()(OrtValue *p) const { api->ReleaseValue(p); }
   void operator()(OrtModelMetadata *p) const { api->ReleaseModelMetadata(p); }
};
template <class T>
using OrtPtr = std::unique_ptr<T, OrtRelease>;

/// A string allocated by ONNX Runtime (names, metadata values), freed with its allocator.
struct OrtFreeString {
   const OrtApi *api = nullptr;
   OrtAllocator *alloc = nullptr;
   void operator()(char *p) const
   {
      if (OrtStatus *st = api->AllocatorFree(alloc, p))
         api->ReleaseStatus(st); // nothing sensible to do about a failed free
   }
};
using OrtString = std::unique_ptr<char, OrtFreeString>;

/// The process-wide ONNX Runtime API table and environment, created once (std::call_once) on
/// first use and kept for the life of the process: the library stays loaded and the OrtEnv is
/// deliberately never released (sessions may outlive any static owner, and ONNX Runtime's own
/// statics are torn down at exit).
struct Runtime {
   const OrtApi *api = nullptr;
   OrtEnv *env = nullptr;
   std::string path;
   std::string version; ///< the runtime's GetVersionString()
};

/// The runtime at `path` (version `version`) lacks the C API version of our headers.
std::string apiVersionError(const std::string &path, const std::string &version)
{
   const std::string v = std::to_string(ORT_API_VERSION);
   return "RooEFT: the ONNX Runtime library '" + path + "' is version " + version +
          ", older than the ONNX Runtime headers libRooEFT was built with (C API version " + v + ", from " +
          ROOEFT_ORT_HEADERS + "): it does not provide C API version " + v + " (ONNX Runtime >= 1." + v +
          " does). Load a newer runtime (set ROOEFT_ONNXRUNTIME_LIB to a libonnxruntime.so of version >= 1." + v +
          ", e.g. from `pip install -U onnxruntime`), or rebuild libRooEFT against this runtime's own headers "
          "(-DONNXRUNTIME_INCLUDE_DIR=<its include folder>).";
}

/// The onnxruntime Python package next to this library in site-packages
/// (<site-packages>/rooeft/lib/libRooEFT.so -> <site-packages>/onnxruntime/capi/libonnxruntime.so*).
std::string siblingPackageLibrary()
{
   Dl_info info;
   if (!dladdr(reinterpret_cast<void *>(&siblingPackageLibrary), &info) || !info.dli_fname)
      return "";
   std::string self(info.dli_fname);
   const auto slash = self.rfind('/');
   if (slash == std::string::npos)
      return "";
   const std::string pattern = self.substr(0, slash) + "/../../onnxruntime/capi/libonnxruntime.so*";
   glob_t g;
   std::string found;
   if (glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0)
      found = g.gl_pathv[0];
   globfree(&g);
   return found;
}

/// Candidates in order: $ROOEFT_ONNXRUNTIME_LIB, the onnxruntime package beside this library,
/// the path recorded at build time.
std::vector<std::string> candidatePaths()
{
   std::vector<std::string> out;
   if (const char *env = std::getenv("ROOEFT_ONNXRUNTIME_LIB"); env && *env)
      out.emplace_back(env);
   out.push_back(siblingPackageLibrary());
   out.emplace_back(ROOEFT_DEFAULT_ORT_LIBRARY);
   return out;
}

std::string candidatePath()
{
   for (auto &p : candidatePaths())
      if (!p.empty())
         return p;
   return "";
}

const Runtime &runtime()
{
   static Runtime rt;
   static std::once_flag once;
   static std::string error;
   std::call_once(once, [] {
      std::vector<std::string> tried;
      void *handle = nullptr;
      auto paths = candidatePaths();
      paths.emplace_back("libonnxruntime.so");
      paths.emplace_back("libonnxruntime.so.1");
      for (const std::string &p : paths) {
         if (p.empty())
            continue;
         tried.push_back(p);
         handle = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
         if (handle) {
            rt.path = p;
            break;
         }
      }
      if (!handle) {
         std::ostringstream msg;
         msg << "RooEFT: cannot load the ONNX Runtime library (tried:";
         for (auto &t : tried)
            msg << " '" << t << "'";
         msg << "; last error: " << dlerror()
             << "). Set ROOEFT_ONNXRUNTIME_LIB to the path of libonnxruntime.so.* (e.g. from the "
                "'onnxruntime' Python package: onnxruntime/capi/libonnxruntime.so.*).";
         error = msg.str();
         return;
      }
      using GetApiBaseFn = const OrtApiBase *(*)();
      auto getBase = reinterpret_cast<GetApiBaseFn>(dlsym(handle, "OrtGetApiBase"));
      if (!getBase) {
         error = "RooEFT: '" + rt.path + "' has no symbol OrtGetApiBase: not an ONNX Runtime library";
         dlclose(handle);
         return;
      }
      const OrtApiBase *base = getBase();
      const char *version = base ? base->GetVersionString() : nullptr;
      rt.version = version ? version : "unknown";
      rt.api = base ? base->GetApi(ORT_API_VERSION) : nullptr;
      if (!rt.api) {
         error = apiVersionError(rt.path, rt.version);
         return;
      }
      OrtPtr<OrtStatus> st(rt.api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "rooeft", &rt.env), OrtRelease{rt.api});
      if (st) {
         error =
            std::string("RooEFT: cannot create the ONNX Runtime environment: ") + rt.api->GetErrorMessage(st.get());
         rt.api = nullptr;
      }
   });
   if (!rt.api)
      throw std::runtime_error(error);
   return rt;
}

/// Throw std::runtime_error with ONNX Runtime's message if `status` is an error (releasing it).
void check(const OrtApi *api, OrtStatus *status, const char *what)
{
   if (!status)
      return;
   OrtPtr<OrtStatus> owned(status, OrtRelease{api});
   throw std::runtime_error(std::string("RooEFT: ONNX Runtime error in ") + what + ": " +
                            api->GetErrorMessage(owned.get()));
}

} // namespace

/// The session's ONNX Runtime handles, released in reverse order of declaration (session first).
struct OnnxSession::Impl {
   const OrtApi *api = nullptr;
   OrtPtr<OrtMemoryInfo> memInfo;
   OrtPtr<OrtSession> session;
   explicit Impl(const OrtApi *a) : api(a), memInfo(nullptr, OrtRelease{a}), session(nullptr, OrtRelease{a}) {}
};

namespace {
/// Element type and shape of input/output `index` of a session.
std::pair<ONNXTensorElementDataType, std::vector<int64_t>> tensorInfo(const OrtApi *api, OrtSession *session,
                                                                      std::size_t index, bool input)
{
   OrtTypeInfo *rawTypeInfo = nullptr;
   OrtStatus *st = input ? api->SessionGetInputTypeInfo(session, index, &rawTypeInfo)
                         : api->SessionGetOutputTypeInfo(session, index, &rawTypeInfo);
   OrtPtr<OrtTypeInfo> typeInfo(rawTypeInfo, OrtRelease{api});
   check(api, st, "SessionGetTypeInfo");
   const OrtTensorTypeAndShapeInfo *tinfo = nullptr; // owned by typeInfo
   check(api, api->CastTypeInfoToTensorInfo(typeInfo.get(), &tinfo), "CastTypeInfoToTensorInfo");
   if (!tinfo)
      throw std::runtime_error(std::string("RooEFT: the model's ") + (input ? "input" : "output") + " is not a tensor");
   ONNXTensorElementDataType type;
   std::size_t rank = 0;
   check(api, api->GetTensorElementType(tinfo, &type), "GetTensorElementType");
   check(api, api->GetDimensionsCount(tinfo, &rank), "GetDimensionsCount");
   std::vector<int64_t> dims(rank);
   check(api, api->GetDimensions(tinfo, dims.data(), rank), "GetDimensions");
   return {type, dims};
}

std::string ioName(const OrtApi *api, OrtSession *session, std::size_t index, bool input)
{
   OrtAllocator *alloc = nullptr; // the default allocator is owned by ONNX Runtime
   check(api, api->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
   char *rawName = nullptr;
   OrtStatus *st = input ? api->SessionGetInputName(session, index, alloc, &rawName)
                         : api->SessionGetOutputName(session, index, alloc, &rawName);
   OrtString name(rawName, OrtFreeString{api, alloc});
   check(api, st, "SessionGetName");
   return name ? std::string(name.get()) : std::string();
}
} // namespace

OnnxSession::OnnxSession(const std::vector<unsigned char> &modelBytes, int nThreads)
{
   if (modelBytes.empty())
      throw std::runtime_error("RooEFT: empty ONNX model (no bytes)");
   const Runtime &rt = runtime();
   const OrtApi *api = rt.api;
   _impl = std::make_unique<Impl>(api);
   OrtSessionOptions *rawOpts = nullptr;
   OrtStatus *st = api->CreateSessionOptions(&rawOpts);
   OrtPtr<OrtSessionOptions> opts(rawOpts, OrtRelease{api});
   check(api, st, "CreateSessionOptions");
   check(api, api->SetIntraOpNumThreads(opts.get(), std::max(1, nThreads)), "SetIntraOpNumThreads");
   check(api, api->SetInterOpNumThreads(opts.get(), 1), "SetInterOpNumThreads");
   check(api, api->SetSessionGraphOptimizationLevel(opts.get(), ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
   OrtSession *rawSession = nullptr;
   st = api->CreateSessionFromArray(rt.env, modelBytes.data(), modelBytes.size(), opts.get(), &rawSession);
   _impl->session.reset(rawSession);
   check(api, st, "CreateSessionFromArray (is this a valid ONNX model?)");
   OrtMemoryInfo *rawMemInfo = nullptr;
   st = api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &rawMemInfo);
   _impl->memInfo.reset(rawMemInfo);
   check(api, st, "CreateCpuMemoryInfo");

   OrtSession *session = _impl->session.get();
   std::size_t nIn = 0, nOut = 0;
   check(api, api->SessionGetInputCount(session, &nIn), "SessionGetInputCount");
   check(api, api->SessionGetOutputCount(session, &nOut), "SessionGetOutputCount");
   if (nIn != 1 || nOut != 1)
      throw std::runtime_error("RooEFT: the ONNX model must have exactly one input and one output, it has " +
                               std::to_string(nIn) + " input(s) and " + std::to_string(nOut) + " output(s)");
   for (bool input : {true, false}) {
      auto [type, dims] = tensorInfo(api, session, 0, input);
      const char *what = input ? "input" : "output";
      if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
         throw std::runtime_error(std::string("RooEFT: the ONNX model's ") + what + " must be float32");
      if (dims.size() != 2 || dims[1] <= 0)
         throw std::runtime_error(std::string("RooEFT: the ONNX model's ") + what +
                                  " must have shape [batch, n] with a fixed n, it has rank " +
                                  std::to_string(dims.size()));
      (input ? _nIn : _nOut) = static_cast<std::size_t>(dims[1]);
   }
   _inName = ioName(api, session, 0, true);
   _outName = ioName(api, session, 0, false);
}

OnnxSession::~OnnxSession() = default;

std::string OnnxSession::metadata(const std::string &key) const
{
   const OrtApi *api = _impl->api;
   OrtModelMetadata *rawMd = nullptr;
   OrtStatus *st = api->SessionGetModelMetadata(_impl->session.get(), &rawMd);
   OrtPtr<OrtModelMetadata> md(rawMd, OrtRelease{api});
   check(api, st, "SessionGetModelMetadata");
   OrtAllocator *alloc = nullptr;
   check(api, api->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
   char *rawValue = nullptr;
   st = api->ModelMetadataLookupCustomMetadataMap(md.get(), alloc, key.c_str(), &rawValue);
   OrtString value(rawValue, OrtFreeString{api, alloc});
   OrtPtr<OrtStatus> lookupStatus(st, OrtRelease{api}); // a failed lookup reads as an absent key
   return !st && value ? std::string(value.get()) : std::string();
}

void OnnxSession::run(const float *in, std::size_t nEvents, float *out) const
{
   const OrtApi *api = _impl->api;
   constexpr std::size_t chunk = 1 << 16;
   const char *inNames[] = {_inName.c_str()};
   const char *outNames[] = {_outName.c_str()};
   for (std::size_t first = 0; first < nEvents; first += chunk) {
      const std::size_t n = std::min(chunk, nEvents - first);
      const int64_t inShape[2] = {static_cast<int64_t>(n), static_cast<int64_t>(_nIn)};
      const int64_t outShape[2] = {static_cast<int64_t>(n), static_cast<int64_t>(_nOut)};
      // the tensors wrap the caller's buffers (no copy); releasing them does not free the data
      OrtValue *rawIn = nullptr;
      OrtStatus *st = api->CreateTensorWithDataAsOrtValue(_impl->memInfo.get(), const_cast<float *>(in + first * _nIn),
                                                          n * _nIn * sizeof(float), inShape, 2,
                                                          ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &rawIn);
      OrtPtr<OrtValue> inVal(rawIn, OrtRelease{api});
      check(api, st, "CreateTensor(input)");
      OrtValue *rawOut = nullptr;
      st = api->CreateTensorWithDataAsOrtValue(_impl->memInfo.get(), out + first * _nOut, n * _nOut * sizeof(float),
                                               outShape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &rawOut);
      OrtPtr<OrtValue> outVal(rawOut, OrtRelease{api});
      check(api, st, "CreateTensor(output)");
      const OrtValue *inputs[] = {inVal.get()};
      OrtValue *output = outVal.get();
      st = api->Run(_impl->session.get(), nullptr, inNames, inputs, 1, outNames, 1, &output);
      if (output != outVal.get())
         outVal.reset(output); // ONNX Runtime keeps a pre-allocated output; own whatever it hands back
      check(api, st, "Run");
   }
}

int OnnxSession::apiVersion() { return ORT_API_VERSION; }

std::string OnnxSession::runtimeVersion() { return runtime().version; }

std::string OnnxSession::runtimeLibraryPath()
{
   try {
      return runtime().path;
   } catch (const std::exception &) {
      return candidatePath();
   }
}

std::vector<unsigned char> OnnxSession::readFile(const std::string &path)
{
   std::ifstream f(path, std::ios::binary);
   if (!f)
      throw std::runtime_error("RooEFT: cannot open ONNX model file '" + path + "'");
   std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
   if (bytes.empty())
      throw std::runtime_error("RooEFT: ONNX model file '" + path + "' is empty");
   return bytes;
}

} // namespace RooEFT
