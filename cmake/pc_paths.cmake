# cmake/pc_paths.cmake - included at install time by the .pc writers (cmake/install_hooks.cmake
# for kvbm.pc, src/ext/common/install_pc.cmake for kvbm-<name>.pc): from KVBM_LIBDIR and
# KVBM_INCDIR (absolute, or relative to the install prefix) set _LIBDIR/_INCDIR and the
# KVBM_PC_PREFIX/KVBM_PC_LIBDIR/KVBM_PC_INCLUDEDIR/PROJECT_VERSION the .pc.in templates use.
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
