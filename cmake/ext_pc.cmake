# cmake/ext_pc.cmake - run at install time for each optional library's pkg-config file
# (src/ext/<name>/kvbm-<name>.pc.in): configured with clean absolute paths for the prefix
# actually installed to, like kvbm.pc (install_hooks.cmake), and added to the manifest.
# Inputs (install(CODE) in CMakeLists.txt): KVBM_PC_IN, KVBM_LIBDIR, KVBM_INCDIR, KVBM_VERSION.
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
get_filename_component(_name "${KVBM_PC_IN}" NAME_WE)
set(_pc "$ENV{DESTDIR}${_LIBDIR}/pkgconfig/${_name}.pc")
message(STATUS "Installing: ${_pc}")
configure_file("${KVBM_PC_IN}" "${_pc}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_pc}")
