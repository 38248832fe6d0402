# src/ext/common/install_pc.cmake - run at install time for each transport library (like
# cmake/install_hooks.cmake for kvbm.pc): writes kvbm-<name>.pc with clean absolute paths for
# the prefix actually installed to, adds it to the manifest (make uninstall), and refreshes
# the loader cache for a system prefix. Inputs: KVBM_SRC, KVBM_LIBDIR, KVBM_INCDIR,
# KVBM_VERSION, KVBM_EXT_NAME, KVBM_EXT_PKG.
include("${KVBM_SRC}/cmake/install_pc.cmake")
kvbm_install_pc("${KVBM_SRC}/src/ext/common/kvbm-ext.pc.in" "kvbm-${KVBM_EXT_NAME}")
if("$ENV{DESTDIR}" STREQUAL "")
  include("${KVBM_SRC}/cmake/ldconfig.cmake")
  kvbm_ldconfig("${_LIBDIR}" "installed")
endif()
