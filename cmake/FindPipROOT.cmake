# Locate the ROOT CMake config and call find_package(ROOT).
#
# The pip `ROOT` wheel (6.40) ships ROOTConfig.cmake, but its targets file points at a
# non-existent `<site-packages>/../mock_site_packages/ROOT/...` prefix (root-project/root#22654).
# When that is the case we build a shim in the build directory: `root-shim/sp/ROOT/` whose entries
# link to the real ones (its cmake/ folder links each file, so CMake computes the import prefix
# `root-shim` inside the shim) and `root-shim/mock_site_packages` linking to the real site-packages. No file of ROOT is
# edited. Hints, in order: -DROOT_DIR, $ROOTSYS, CMAKE_PREFIX_PATH, the Python running the build.

set(_rooeft_root_cmake "")
if(ROOT_DIR AND EXISTS "${ROOT_DIR}/ROOTConfig.cmake")
  set(_rooeft_root_cmake "${ROOT_DIR}")
elseif(DEFINED ENV{ROOTSYS} AND EXISTS "$ENV{ROOTSYS}/cmake/ROOTConfig.cmake")
  set(_rooeft_root_cmake "$ENV{ROOTSYS}/cmake")
else()
  set(_hints ${CMAKE_PREFIX_PATH})
  if(DEFINED ENV{VIRTUAL_ENV})
    file(GLOB _venv_sp "$ENV{VIRTUAL_ENV}/lib/python3*/site-packages")
    list(APPEND _hints ${_venv_sp})
  endif()
  find_package(Python COMPONENTS Interpreter QUIET)
  if(Python_EXECUTABLE)
    execute_process(COMMAND ${Python_EXECUTABLE} -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"
      OUTPUT_VARIABLE _py_sp OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND _hints ${_py_sp})
  endif()
  find_path(_rooeft_root_cmake_found ROOTConfig.cmake
    PATHS ${_hints} PATH_SUFFIXES ROOT/cmake cmake NO_DEFAULT_PATH)
  if(_rooeft_root_cmake_found)
    set(_rooeft_root_cmake "${_rooeft_root_cmake_found}")
  endif()
endif()
if(NOT _rooeft_root_cmake)
  message(FATAL_ERROR "RooEFT: cannot find ROOT's CMake config (ROOTConfig.cmake). Install ROOT "
    "(`pip install ROOT`) into the environment you build in, or pass -DROOT_DIR=<dir with ROOTConfig.cmake>.")
endif()

# (through ROOTConfig.cmake itself: on a re-configure ROOT_DIR is the shim's cmake/ folder, whose
# files link to the real ones)
get_filename_component(_rooeft_root_cmake "${_rooeft_root_cmake}/ROOTConfig.cmake" REALPATH)
get_filename_component(_rooeft_root_cmake "${_rooeft_root_cmake}" DIRECTORY)
get_filename_component(_root_prefix "${_rooeft_root_cmake}/.." ABSOLUTE)
get_filename_component(_site_packages "${_root_prefix}/.." REALPATH)
file(READ "${_rooeft_root_cmake}/ROOTConfig-targets-release.cmake" _targets LIMIT 4000)
if(_targets MATCHES "mock_site_packages" AND NOT EXISTS "${_site_packages}/../mock_site_packages")
  set(_shim "${CMAKE_BINARY_DIR}/root-shim")
  file(REMOVE_RECURSE "${_shim}")
  file(MAKE_DIRECTORY "${_shim}/sp/ROOT/cmake")
  file(CREATE_LINK "${_site_packages}" "${_shim}/mock_site_packages" SYMBOLIC)
  file(GLOB _entries RELATIVE "${_root_prefix}" "${_root_prefix}/*")
  foreach(_e IN LISTS _entries)
    if(NOT _e STREQUAL "cmake")
      file(CREATE_LINK "${_root_prefix}/${_e}" "${_shim}/sp/ROOT/${_e}" SYMBOLIC)
    endif()
  endforeach()
  file(GLOB _cm RELATIVE "${_rooeft_root_cmake}" "${_rooeft_root_cmake}/*")
  foreach(_e IN LISTS _cm)
    file(CREATE_LINK "${_rooeft_root_cmake}/${_e}" "${_shim}/sp/ROOT/cmake/${_e}" SYMBOLIC)
  endforeach()
  set(_rooeft_root_cmake "${_shim}/sp/ROOT/cmake")
  message(STATUS "RooEFT: using a build-directory shim for the pip ROOT CMake config (root-project/root#22654)")
endif()
find_package(ROOT CONFIG REQUIRED COMPONENTS RooFitCore RooFit PATHS "${_rooeft_root_cmake}" NO_DEFAULT_PATH)
set(ROOEFT_SITE_PACKAGES "${_site_packages}")
message(STATUS "RooEFT: ROOT ${ROOT_VERSION} from ${_root_prefix}")
