// ONNX Runtime session wrapper: dlopen'ed C API, one float32 input and one float32 output.
#include "RooEFT/OnnxSession.h"

#include <onnxruntime_c_api.h>

#include <dlfcn.h>
#include <glob.h>

#include <algorithm>
#include <cctype>
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

/// The process-wide ONNX Runtime API table and environment, created on first use.
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
      OrtStatus *st = rt.api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "rooeft", &rt.env);
      if (st) {
         error = std::string("RooEFT: cannot create the ONNX Runtime environment: ") + rt.api->GetErrorMessage(st);
         rt.api->ReleaseStatus(st);
         rt.api = nullptr;
      }
   });
   if (!rt.api)
      throw std::runtime_error(error);
   return rt;
}

void check(const OrtApi *api, OrtStatus *status, const char *what)
{
   if (!status)
      return;
   std::string msg = std::string("RooEFT: ONNX Runtime error in ") + what + ": " + api->GetErrorMessage(status);
   api->ReleaseStatus(status);
   throw std::runtime_error(msg);
}

} // namespace

struct OnnxSession::Impl {
   const OrtApi *api = nullptr;
   OrtSession *session = nullptr;
   OrtMemoryInfo *memInfo = nullptr;
   ~Impl()
   {
      if (api) {
         if (session)
            api->ReleaseSession(session);
         if (memInfo)
            api->ReleaseMemoryInfo(memInfo);
      }
   }
};

namespace {
/// Element type and shape of input/output `index` of a session.
std::pair<ONNXTensorElementDataType, std::vector<int64_t>>
tensorInfo(const OrtApi *api, OrtSession *session, std::size_t index, bool input)
{
   OrtTypeInfo *typeInfo = nullptr;
   check(api, input ? api->SessionGetInputTypeInfo(session, index, &typeInfo)
                    : api->SessionGetOutputTypeInfo(session, index, &typeInfo),
         "SessionGetTypeInfo");
   const OrtTensorTypeAndShapeInfo *tinfo = nullptr;
   OrtStatus *st = api->CastTypeInfoToTensorInfo(typeInfo, &tinfo);
   if (st || !tinfo) {
      api->ReleaseTypeInfo(typeInfo);
      check(api, st, "CastTypeInfoToTensorInfo");
      throw std::runtime_error(std::string("RooEFT: the model's ") + (input ? "input" : "output") +
                               " is not a tensor");
   }
   ONNXTensorElementDataType type;
   std::size_t rank = 0;
   check(api, api->GetTensorElementType(tinfo, &type), "GetTensorElementType");
   check(api, api->GetDimensionsCount(tinfo, &rank), "GetDimensionsCount");
   std::vector<int64_t> dims(rank);
   check(api, api->GetDimensions(tinfo, dims.data(), rank), "GetDimensions");
   api->ReleaseTypeInfo(typeInfo);
   return {type, dims};
}

std::string ioName(const OrtApi *api, OrtSession *session, std::size_t index, bool input)
{
   OrtAllocator *alloc = nullptr;
   check(api, api->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
   char *name = nullptr;
   check(api, input ? api->SessionGetInputName(session, index, alloc, &name)
                    : api->SessionGetOutputName(session, index, alloc, &name),
         "SessionGetName");
   std::string out(name);
   check(api, api->AllocatorFree(alloc, name), "AllocatorFree");
   return out;
}
} // namespace

OnnxSession::OnnxSession(const std::vector<unsigned char> &modelBytes, int nThreads) : _impl(new Impl)
{
   if (modelBytes.empty())
      throw std::runtime_error("RooEFT: empty ONNX model (no bytes)");
   const Runtime &rt = runtime();
   const OrtApi *api = rt.api;
   _impl->api = api;
   OrtSessionOptions *opts = nullptr;
   check(api, api->CreateSessionOptions(&opts), "CreateSessionOptions");
   struct OptsGuard {
      const OrtApi *a;
      OrtSessionOptions *o;
      ~OptsGuard() { a->ReleaseSessionOptions(o); }
   } guard{api, opts};
   check(api, api->SetIntraOpNumThreads(opts, std::max(1, nThreads)), "SetIntraOpNumThreads");
   check(api, api->SetInterOpNumThreads(opts, 1), "SetInterOpNumThreads");
   check(api, api->SetSessionGraphOptimizationLevel(opts, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
   check(api, api->CreateSessionFromArray(rt.env, modelBytes.data(), modelBytes.size(), opts, &_impl->session),
         "CreateSessionFromArray (is this a valid ONNX model?)");
   check(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &_impl->memInfo), "CreateCpuMemoryInfo");

   std::size_t nIn = 0, nOut = 0;
   check(api, api->SessionGetInputCount(_impl->session, &nIn), "SessionGetInputCount");
   check(api, api->SessionGetOutputCount(_impl->session, &nOut), "SessionGetOutputCount");
   if (nIn != 1 || nOut != 1)
      throw std::runtime_error("RooEFT: the ONNX model must have exactly one input and one output, it has " +
                               std::to_string(nIn) + " input(s) and " + std::to_string(nOut) + " output(s)");
   for (bool input : {true, false}) {
      auto [type, dims] = tensorInfo(api, _impl->session, 0, input);
      const char *what = input ? "input" : "output";
      if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
         throw std::runtime_error(std::string("RooEFT: the ONNX model's ") + what + " must be float32");
      if (dims.size() != 2 || dims[1] <= 0)
         throw std::runtime_error(std::string("RooEFT: the ONNX model's ") + what +
                                  " must have shape [batch, n] with a fixed n, it has rank " +
                                  std::to_string(dims.size()));
      (input ? _nIn : _nOut) = static_cast<std::size_t>(dims[1]);
   }
   _inName = ioName(api, _impl->session, 0, true);
   _outName = ioName(api, _impl->session, 0, false);
}

OnnxSession::~OnnxSession() = default;

std::string OnnxSession::metadata(const std::string &key) const
{
   const OrtApi *api = _impl->api;
   OrtModelMetadata *md = nullptr;
   check(api, api->SessionGetModelMetadata(_impl->session, &md), "SessionGetModelMetadata");
   OrtAllocator *alloc = nullptr;
   check(api, api->GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
   char *value = nullptr;
   OrtStatus *st = api->ModelMetadataLookupCustomMetadataMap(md, alloc, key.c_str(), &value);
   std::string out;
   if (!st && value) {
      out = value;
      OrtStatus *freeStatus = api->AllocatorFree(alloc, value);
      if (freeStatus)
         api->ReleaseStatus(freeStatus);
   }
   if (st)
      api->ReleaseStatus(st);
   api->ReleaseModelMetadata(md);
   return out;
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
      OrtValue *inVal = nullptr;
      OrtValue *outVal = nullptr;
      check(api,
            api->CreateTensorWithDataAsOrtValue(_impl->memInfo, const_cast<float *>(in + first * _nIn),
                                                n * _nIn * sizeof(float), inShape, 2,
                                                ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inVal),
            "CreateTensor(input)");
      OrtStatus *st = api->CreateTensorWithDataAsOrtValue(_impl->memInfo, out + first * _nOut,
                                                          n * _nOut * sizeof(float), outShape, 2,
                                                          ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &outVal);
      if (st) {
         api->ReleaseValue(inVal);
         check(api, st, "CreateTensor(output)");
      }
      st = api->Run(_impl->session, nullptr, inNames, &inVal, 1, outNames, 1, &outVal);
      api->ReleaseValue(inVal);
      api->ReleaseValue(outVal);
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

// ---- tiny JSON readers for the metadata lists -------------------------------------------------
namespace {
struct JsonCursor {
   const std::string &s;
   std::size_t i = 0;
   void ws()
   {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
         ++i;
   }
   [[noreturn]] void fail(const std::string &what) const
   {
      throw std::runtime_error("RooEFT: malformed JSON metadata (" + what + ") at offset " + std::to_string(i) +
                               " in: " + s);
   }
   void expect(char c)
   {
      ws();
      if (i >= s.size() || s[i] != c)
         fail(std::string("expected '") + c + "'");
      ++i;
   }
   bool peek(char c)
   {
      ws();
      return i < s.size() && s[i] == c;
   }
   std::string str()
   {
      expect('"');
      std::string out;
      while (i < s.size() && s[i] != '"') {
         if (s[i] == '\\') {
            if (++i >= s.size())
               fail("dangling escape");
            char e = s[i];
            if (e == 'u')
               fail("\\u escapes are not supported in names");
            out += (e == 'n') ? '\n' : (e == 't') ? '\t' : e;
         } else {
            out += s[i];
         }
         ++i;
      }
      expect('"');
      return out;
   }
   double number()
   {
      ws();
      const char *start = s.c_str() + i;
      char *end = nullptr;
      double v = std::strtod(start, &end);
      if (end == start)
         fail("expected a number");
      i += static_cast<std::size_t>(end - start);
      return v;
   }
};
} // namespace

std::vector<std::string> parseJsonStringList(const std::string &json)
{
   std::vector<std::string> out;
   if (json.empty())
      return out;
   JsonCursor c{json};
   c.expect('[');
   if (c.peek(']')) {
      c.expect(']');
      return out;
   }
   do {
      out.push_back(c.str());
      if (!c.peek(','))
         break;
      c.expect(',');
   } while (true);
   c.expect(']');
   return out;
}

std::vector<std::pair<std::string, double>> parseJsonNumberMap(const std::string &json)
{
   std::vector<std::pair<std::string, double>> out;
   if (json.empty())
      return out;
   JsonCursor c{json};
   c.expect('{');
   if (c.peek('}')) {
      c.expect('}');
      return out;
   }
   do {
      std::string key = c.str();
      c.expect(':');
      out.emplace_back(key, c.number());
      if (!c.peek(','))
         break;
      c.expect(',');
   } while (true);
   c.expect('}');
   return out;
}

} // namespace RooEFT
