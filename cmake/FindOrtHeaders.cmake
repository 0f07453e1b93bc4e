# ONNX Runtime: only the C API header onnxruntime_c_api.h is needed at build time (the runtime
# library is dlopen'ed, see cpp/src/OnnxSession.cxx). The first of these that has the header wins:
#
#   1. ONNXRUNTIME_INCLUDE_DIR (-D or environment): the directory holding onnxruntime_c_api.h
#   2. ONNXRUNTIME_ROOT (-D or environment): an install prefix (<root>/include[/onnxruntime])
#   3. a conda environment ($CONDA_PREFIX, e.g. conda-forge's onnxruntime-cpp), then a system or
#      LCG install (CMAKE_PREFIX_PATH, /usr, /usr/local, ...; find_path's standard prefixes)
#   4. headers fetched earlier into the project (.deps/onnxruntime, by step 5)
#   5. last resort, if ROOEFT_FETCH_ORT_HEADERS is ON: scripts/fetch-onnxruntime-headers.sh
#      downloads Debian's libonnxruntime-dev package (network; nothing installed system-wide)
#
# A user-given directory (1, 2) that lacks the header is an error, never silently skipped.
# Sets ROOEFT_ORT_INCLUDE_DIR, ROOEFT_ORT_API_VERSION (the header's ORT_API_VERSION) and
# ROOEFT_ORT_LIBRARY (default runtime: the onnxruntime Python package next to ROOT); records the
# choice in the cache as ROOEFT_ORT_INCLUDE_DIR_USED and ROOEFT_ORT_HEADERS_ORIGIN (read-only).
set(ONNXRUNTIME_INCLUDE_DIR "" CACHE PATH "Directory containing onnxruntime_c_api.h (searched first)")
set(ONNXRUNTIME_ROOT "" CACHE PATH "Install prefix of ONNX Runtime (include/onnxruntime_c_api.h or include/onnxruntime/)")
option(ROOEFT_FETCH_ORT_HEADERS "Download Debian's ONNX Runtime headers when none are found (last resort)" ON)
unset(ROOEFT_ORT_INCLUDE_DIR CACHE)  # the result is recomputed on every configure

set(_ort_suffixes onnxruntime onnxruntime/core/session)

# _rooeft_ort_in(<out> <dir>...): first of the directories (or their onnxruntime/ sub-folders)
# containing onnxruntime_c_api.h, searched in these directories only.
function(_rooeft_ort_in out)
  unset(_found)  # (find_path skips the search if the variable is set, even to "")
  if(ARGN)
    find_path(_found onnxruntime_c_api.h PATHS ${ARGN} PATH_SUFFIXES ${_ort_suffixes}
      NO_DEFAULT_PATH NO_CACHE)
  endif()
  if(NOT _found)
    set(_found "")
  endif()
  set(${out} "${_found}" PARENT_SCOPE)
endfunction()

set(_ort_dir "")
set(_ort_origin "")

# 1. and 2.: explicitly given locations (a -D value wins over the environment)
foreach(_var IN ITEMS ONNXRUNTIME_INCLUDE_DIR ONNXRUNTIME_ROOT)
  set(_given "${${_var}}")
  if(NOT _given)
    set(_given "$ENV{${_var}}")
  endif()
  if(_ort_dir OR NOT _given)
    continue()
  endif()
  if(_var STREQUAL "ONNXRUNTIME_INCLUDE_DIR")
    _rooeft_ort_in(_ort_dir "${_given}")
  else()
    _rooeft_ort_in(_ort_dir "${_given}/include")
  endif()
  if(NOT _ort_dir)
    message(FATAL_ERROR "RooEFT: ${_var}='${_given}' contains no onnxruntime_c_api.h "
      "(looked in it and in its onnxruntime/ and onnxruntime/core/session/ sub-folders; for ONNXRUNTIME_ROOT "
      "below <root>/include). "
      "Point ONNXRUNTIME_INCLUDE_DIR at the folder holding onnxruntime_c_api.h, or ONNXRUNTIME_ROOT at the install prefix.")
  endif()
  set(_ort_origin "${_var}")
endforeach()

# 3. a conda environment, then the standard prefixes of this system
if(NOT _ort_dir AND DEFINED ENV{CONDA_PREFIX} AND NOT "$ENV{CONDA_PREFIX}" STREQUAL "")
  _rooeft_ort_in(_ort_dir "$ENV{CONDA_PREFIX}/include")
  if(_ort_dir)
    set(_ort_origin "conda ($CONDA_PREFIX)")
  endif()
endif()
if(NOT _ort_dir)
  unset(_ort_sys)
  find_path(_ort_sys onnxruntime_c_api.h PATH_SUFFIXES ${_ort_suffixes} NO_CACHE)
  if(_ort_sys)
    set(_ort_dir "${_ort_sys}")
    set(_ort_origin "system")
  endif()
endif()

# 4. and 5.: the project-local copy of Debian's headers, fetched if necessary
set(_ort_local "${CMAKE_CURRENT_SOURCE_DIR}/.deps/onnxruntime/usr/include")
if(NOT _ort_dir)
  _rooeft_ort_in(_ort_dir "${_ort_local}")
  if(_ort_dir)
    set(_ort_origin "project copy of Debian's libonnxruntime-dev (.deps)")
  endif()
endif()
if(NOT _ort_dir AND ROOEFT_FETCH_ORT_HEADERS
   AND EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-onnxruntime-headers.sh")
  message(STATUS "RooEFT: no ONNX Runtime headers found, fetching Debian's (scripts/fetch-onnxruntime-headers.sh)")
  execute_process(COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-onnxruntime-headers.sh"
    RESULT_VARIABLE _fetch_rc)
  _rooeft_ort_in(_ort_dir "${_ort_local}")
  if(_ort_dir)
    set(_ort_origin "Debian's libonnxruntime-dev, downloaded into .deps")
  endif()
endif()

if(NOT _ort_dir)
  message(FATAL_ERROR "RooEFT: ONNX Runtime header onnxruntime_c_api.h not found. Either\n"
    "  - pass -DONNXRUNTIME_INCLUDE_DIR=<folder holding onnxruntime_c_api.h> (any ONNX Runtime >= 1.16 "
    "headers: a release tarball's include/, conda-forge's onnxruntime-cpp, an LCG view), or "
    "-DONNXRUNTIME_ROOT=<install prefix>;\n"
    "  - or install them where CMake looks (CONDA_PREFIX, CMAKE_PREFIX_PATH, /usr, /usr/local);\n"
    "  - or run `bash scripts/fetch-onnxruntime-headers.sh` (needs network and apt-get: extracts Debian's "
    "libonnxruntime-dev headers into .deps/onnxruntime, nothing is installed system-wide).")
endif()
string(REGEX REPLACE "/+$" "" ROOEFT_ORT_INCLUDE_DIR "${_ort_dir}")

# The header's C API version: the runtime loaded at run time must provide it (ONNX Runtime 1.N
# provides API versions <= N; OnnxSession.cxx checks this with a clear message).
file(STRINGS "${ROOEFT_ORT_INCLUDE_DIR}/onnxruntime_c_api.h" _ort_api_line REGEX "^#define ORT_API_VERSION [0-9]+")
string(REGEX REPLACE ".*ORT_API_VERSION ([0-9]+).*" "\\1" ROOEFT_ORT_API_VERSION "${_ort_api_line}")

# Default runtime library: the one shipped by the `onnxruntime` Python package next to ROOT.
file(GLOB _ort_libs "${ROOEFT_SITE_PACKAGES}/onnxruntime/capi/libonnxruntime.so*")
list(SORT _ort_libs)
list(LENGTH _ort_libs _n)
if(_n GREATER 0)
  list(GET _ort_libs 0 ROOEFT_ORT_LIBRARY)
else()
  set(ROOEFT_ORT_LIBRARY "")
endif()
file(GLOB _ort_dist "${ROOEFT_SITE_PACKAGES}/onnxruntime-*.dist-info")
if(_ort_dist AND ROOEFT_ORT_API_VERSION)
  list(GET _ort_dist 0 _ort_dist)
  get_filename_component(_ort_dist "${_ort_dist}" NAME)
  if(_ort_dist MATCHES "^onnxruntime-1\\.([0-9]+)" AND CMAKE_MATCH_1 LESS ROOEFT_ORT_API_VERSION)
    message(WARNING "RooEFT: the ONNX Runtime headers in ${ROOEFT_ORT_INCLUDE_DIR} need C API version "
      "${ROOEFT_ORT_API_VERSION} (ONNX Runtime >= 1.${ROOEFT_ORT_API_VERSION}), but the installed Python "
      "package is ${_ort_dist}: creating a session will fail. Use headers of an ONNX Runtime release not newer "
      "than the runtime (ONNXRUNTIME_INCLUDE_DIR), or upgrade onnxruntime.")
  endif()
endif()

set(ROOEFT_ORT_INCLUDE_DIR_USED "${ROOEFT_ORT_INCLUDE_DIR}" CACHE INTERNAL "ONNX Runtime headers used")
set(ROOEFT_ORT_HEADERS_ORIGIN "${_ort_origin}" CACHE INTERNAL "Where the ONNX Runtime headers came from")
message(STATUS "RooEFT: ONNX Runtime headers (C API version ${ROOEFT_ORT_API_VERSION}) in "
  "${ROOEFT_ORT_INCLUDE_DIR} [from ${_ort_origin}]; default runtime '${ROOEFT_ORT_LIBRARY}'")
