# cmake/install_hooks.cmake - run at install time (install(SCRIPT)), after the files are in.
#  * kvbm.pc with clean absolute paths for the prefix actually installed to (also with
#    `cmake --install BUILD --prefix DIR`), added to install_manifest.txt for uninstall;
#  * the loader cache: installing into a system prefix as root runs ldconfig, so consumers
#    find libkvbm.so.0.x at once; otherwise a hint is printed.
# Inputs (set by CMakeLists.txt through install(CODE)): KVBM_SRC, KVBM_LIBDIR, KVBM_INCDIR,
# KVBM_VERSION.
include("${KVBM_SRC}/cmake/install_pc.cmake")
kvbm_install_pc("${KVBM_SRC}/cmake/kvbm.pc.in")

if("$ENV{DESTDIR}" STREQUAL "")
  include("${KVBM_SRC}/cmake/ldconfig.cmake")
  kvbm_ldconfig("${_LIBDIR}" "installed")
endif()
