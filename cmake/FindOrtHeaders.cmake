# ONNX Runtime: only the C API header is needed at build time (the runtime is dlopen'ed).
# Search order: -DONNXRUNTIME_ROOT, $ONNXRUNTIME_ROOT, the project-local prefix that
# scripts/fetch-onnxruntime-headers.sh fills (.deps/onnxruntime), standard include paths.
set(_ort_hints)
foreach(_r IN ITEMS "${ONNXRUNTIME_ROOT}" "$ENV{ONNXRUNTIME_ROOT}" "${CMAKE_CURRENT_SOURCE_DIR}/.deps/onnxruntime/usr")
  if(_r)
    list(APPEND _ort_hints "${_r}/include/onnxruntime" "${_r}/include")
  endif()
endforeach()
option(ROOEFT_FETCH_ORT_HEADERS "Run scripts/fetch-onnxruntime-headers.sh when no headers are found" ON)
find_path(ROOEFT_ORT_INCLUDE_DIR onnxruntime_c_api.h HINTS ${_ort_hints} PATH_SUFFIXES onnxruntime)
if(NOT ROOEFT_ORT_INCLUDE_DIR AND ROOEFT_FETCH_ORT_HEADERS
   AND EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-onnxruntime-headers.sh")
  message(STATUS "RooEFT: no ONNX Runtime headers found, fetching them (scripts/fetch-onnxruntime-headers.sh)")
  execute_process(COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-onnxruntime-headers.sh"
    RESULT_VARIABLE _fetch_rc)
  unset(ROOEFT_ORT_INCLUDE_DIR CACHE)
  find_path(ROOEFT_ORT_INCLUDE_DIR onnxruntime_c_api.h HINTS ${_ort_hints} PATH_SUFFIXES onnxruntime)
endif()
if(NOT ROOEFT_ORT_INCLUDE_DIR)
  message(FATAL_ERROR "RooEFT: ONNX Runtime header onnxruntime_c_api.h not found. Run "
    "`bash scripts/fetch-onnxruntime-headers.sh` (extracts Debian's libonnxruntime-dev headers into "
    ".deps/onnxruntime without installing anything system-wide), or set ONNXRUNTIME_ROOT to a "
    "prefix containing include/onnxruntime_c_api.h (any ONNX Runtime >= 1.16 headers work).")
endif()
# Default runtime library: the one shipped by the `onnxruntime` Python package next to ROOT.
file(GLOB _ort_libs "${ROOEFT_SITE_PACKAGES}/onnxruntime/capi/libonnxruntime.so*")
list(SORT _ort_libs)
list(LENGTH _ort_libs _n)
if(_n GREATER 0)
  list(GET _ort_libs 0 ROOEFT_ORT_LIBRARY)
else()
  set(ROOEFT_ORT_LIBRARY "")
endif()
message(STATUS "RooEFT: ONNX Runtime headers in ${ROOEFT_ORT_INCLUDE_DIR}; default runtime '${ROOEFT_ORT_LIBRARY}'")
