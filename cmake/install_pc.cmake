# cmake/install_pc.cmake - kvbm_install_pc(PC_IN): at install time, configure a pkg-config
# template (kvbm.pc.in, or build/pc/kvbm-<name>.pc.in written by kvbm_ext_library) into <libdir>/pkgconfig/ with clean
# absolute paths for the prefix actually installed to (also with `cmake --install BUILD
# --prefix DIR`) and add it to install_manifest.txt for uninstall. A macro: it sets _LIBDIR
# and _INCDIR (absolute) in the caller's scope.
# An optional second argument names the .pc file (default: the template's name without
# .pc.in).
# Inputs: KVBM_LIBDIR, KVBM_INCDIR, KVBM_VERSION (set through install(CODE)).
macro(kvbm_install_pc pc_in)
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
  get_filename_component(_pcname "${pc_in}" NAME_WE)
  if(NOT "${ARGN}" STREQUAL "")
    set(_pcname "${ARGN}")
  endif()
  set(_pc "$ENV{DESTDIR}${_LIBDIR}/pkgconfig/${_pcname}.pc")
  message(STATUS "Installing: ${_pc}")
  configure_file("${pc_in}" "${_pc}" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_pc}")
endmacro()
