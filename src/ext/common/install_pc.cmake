# src/ext/common/install_pc.cmake - run at install time for each transport library (like
# cmake/install_hooks.cmake for kvbm.pc): writes kvbm-<name>.pc with clean absolute paths for
# the prefix actually installed to, adds it to the manifest (make uninstall), and refreshes
# the loader cache for a system prefix. Inputs: KVBM_SRC, KVBM_LIBDIR, KVBM_INCDIR,
# KVBM_VERSION, KVBM_EXT_NAME, KVBM_EXT_PKG.
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
set(_pc "$ENV{DESTDIR}${_LIBDIR}/pkgconfig/kvbm-${KVBM_EXT_NAME}.pc")
message(STATUS "Installing: ${_pc}")
configure_file("${KVBM_SRC}/src/ext/common/kvbm-ext.pc.in" "${_pc}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_pc}")
if("$ENV{DESTDIR}" STREQUAL "")
  include("${KVBM_SRC}/cmake/ldconfig.cmake")
  kvbm_ldconfig("${_LIBDIR}" "installed")
endif()
