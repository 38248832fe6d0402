# cmake/install_hooks.cmake - run at install time (install(SCRIPT)), after the files are in.
#  * kvbm.pc with clean absolute paths for the prefix actually installed to (also with
#    `cmake --install BUILD --prefix DIR`), added to install_manifest.txt for uninstall;
#  * the loader cache: installing into a system prefix as root runs ldconfig, so consumers
#    find libkvbm.so.0.x at once; otherwise a hint is printed.
# Inputs (set by CMakeLists.txt through install(CODE)): KVBM_SRC, KVBM_LIBDIR, KVBM_INCDIR,
# KVBM_VERSION.
set(_prefix "${CMAKE_INSTALL_PREFIX}")
foreach(_v LIBDIR INCDIR)
  if(IS_ABSOLUTE "${KVBM_${_v}}")
    set(_${_v} "${KVBM_${_v}}")
  else()
    set(_${_v} "${_prefix}/${KVBM_${_v}}")
  endif()
endforeach()
set(KVBM_PC_PREFIX "${_prefix}")
set(KVBM_PC_LIBDIR "${_LIBDIR}")
set(KVBM_PC_INCLUDEDIR "${_INCDIR}")
set(PROJECT_VERSION "${KVBM_VERSION}")
set(_pc "$ENV{DESTDIR}${_LIBDIR}/pkgconfig/kvbm.pc")
message(STATUS "Installing: ${_pc}")
configure_file("${KVBM_SRC}/cmake/kvbm.pc.in" "${_pc}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_pc}")

if("$ENV{DESTDIR}" STREQUAL "")
  include("${KVBM_SRC}/cmake/ldconfig.cmake")
  kvbm_ldconfig("${_LIBDIR}" "installed")
endif()
