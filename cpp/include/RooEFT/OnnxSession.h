/// \file OnnxSession.h
/// \brief A minimal, cling-safe handle on an ONNX Runtime inference session.
///
/// ONNX Runtime is loaded at run time with `dlopen` (no link-time dependency): the library path is
/// taken from the environment variable `ROOEFT_ONNXRUNTIME_LIB`, else from the `onnxruntime` Python
/// package installed beside rooeft (`<site-packages>/onnxruntime/capi/libonnxruntime.so.*`), else
/// from the path recorded at build time, else from the dynamic loader's search path. The public
/// header includes no ONNX Runtime header. The model's metadata is read by RooEFT::ModelLayout.
#ifndef RooEFT_OnnxSession_h
#define RooEFT_OnnxSession_h

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace RooEFT {

/// One ONNX model (one float32 input `[batch, nIn]`, one float32 output `[batch, nOut]`) ready
/// to run. Construction parses and checks the model; errors are `std::runtime_error`s whose
/// message says what is wrong. Instances are not copyable; share them with `std::shared_ptr`.
///
/// Ownership: every ONNX Runtime handle (session, memory info, session options, type infos,
/// tensors, metadata, statuses, allocator-owned strings) is held by a `std::unique_ptr` with the
/// matching `Release*` deleter from the moment it is created, so no error path leaks one. The
/// process-wide runtime (the dlopen'ed library and its `OrtEnv`) is created once under
/// `std::call_once` and lives until the process ends.
///
/// Threading: the object is immutable after construction. `run()` and `metadata()` are const,
/// keep no state between calls (the input and output tensors wrap the caller's buffers) and may be
/// called concurrently from several threads on one session (ONNX Runtime's `Run` is thread-safe);
/// sessions may also be constructed concurrently.
class OnnxSession {
public:
   /// Create a session from the serialised model bytes. `nThreads` is ONNX Runtime's intra-op
   /// thread count (1 keeps RooFit's own parallelism in control).
   explicit OnnxSession(const std::vector<unsigned char> &modelBytes, int nThreads = 1);
   ~OnnxSession();
   OnnxSession(const OnnxSession &) = delete;
   OnnxSession &operator=(const OnnxSession &) = delete;

   /// Number of input columns (observables) and output columns of the model.
   std::size_t nInputs() const { return _nIn; }
   std::size_t nOutputs() const { return _nOut; }
   /// Names of the graph's input and output tensors.
   const std::string &inputName() const { return _inName; }
   const std::string &outputName() const { return _outName; }
   /// Custom metadata value for `key` (empty string if absent).
   std::string metadata(const std::string &key) const;

   /// Run the model on `nEvents` rows of `nInputs()` floats (row-major) and write
   /// `nEvents * nOutputs()` floats (row-major) to `out`. Large batches are split internally.
   void run(const float *in, std::size_t nEvents, float *out) const;

   /// Path of the ONNX Runtime shared library that is (or would be) loaded.
   static std::string runtimeLibraryPath();
   /// The ONNX Runtime C API version libRooEFT was compiled against (its headers' ORT_API_VERSION).
   /// The runtime loaded must provide it: ONNX Runtime 1.N provides the versions up to N, an older
   /// runtime fails with a message naming both versions and the library path.
   static int apiVersion();
   /// Version string of the loaded ONNX Runtime (loads it; throws std::runtime_error saying why
   /// if it cannot be loaded or is too old for apiVersion()).
   static std::string runtimeVersion();
   /// Read a whole file into bytes; throws `std::runtime_error` naming the file on failure.
   static std::vector<unsigned char> readFile(const std::string &path);

private:
   struct Impl;
   std::unique_ptr<Impl> _impl;
   std::size_t _nIn = 0;
   std::size_t _nOut = 0;
   std::string _inName;
   std::string _outName;
};

} // namespace RooEFT

#endif
