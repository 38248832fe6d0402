# cmake/ext_library.cmake - the one way an optional library is declared (src/ext/<name>/).
#
#   kvbm_ext_library(NAME <name> DESCRIPTION "<one line>"
#                    [PKGS <pkg-config module>...]   Debian -dev packages it links
#                    [EXT_DEPS <ext name>...]        other optional kvbm libraries it uses
#                    [SOURCES <file.c>...]           default: every *.c of the directory
#                                                    except bench_*.c
#                    [COMMON])                       also compile src/ext/common/*.c in
#
# defines the shared library kvbm_<name> (links libkvbm.so and kvbm_<dep>) and the static
# kvbm_<name>_static (links kvbm_static and kvbm_<dep>_static), both built from one object
# library with hidden visibility (KVBM__EXT_API exports), public headers from include/, the
# alias kvbm::kvbm_<name>, install rules, and a pkg-config file kvbm-<name>.pc (Requires: kvbm
# and kvbm-<dep>, Requires.private: PKGS) written at install time with clean absolute paths
# by cmake/install_pc.cmake, like kvbm.pc. If a dependency's KVBM_WITH_<DEP> is OFF the
# library is skipped with a message (its tests are skipped with it: the top-level loop checks
# that the target exists). The ext libraries are not in the kvbm CMake package: consumers use
# pkg-config (their static archives would drag imported targets of the -dev packages along).
include_guard(GLOBAL)
set(KVBM_EXT_COMMON_DIR ${PROJECT_SOURCE_DIR}/src/ext/common CACHE INTERNAL "src/ext/common")

function(kvbm_ext_library)
  cmake_parse_arguments(X "COMMON" "NAME;DESCRIPTION" "PKGS;EXT_DEPS;SOURCES" ${ARGN})
  if(NOT X_NAME OR NOT X_DESCRIPTION)
    message(FATAL_ERROR "kvbm_ext_library: NAME and DESCRIPTION are required")
  endif()
  set(n ${X_NAME})
  foreach(d ${X_EXT_DEPS})
    string(TOUPPER ${d} D)
    if(DEFINED KVBM_WITH_${D} AND NOT KVBM_WITH_${D})
      message(STATUS "kvbm_${n}: skipped, it needs kvbm_${d} (KVBM_WITH_${D}=OFF)")
      return()
    endif()
  endforeach()
  if(NOT X_SOURCES)
    file(GLOB X_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
    list(FILTER X_SOURCES EXCLUDE REGEX "/bench_[^/]*\\.c$")
  endif()
  if(X_COMMON)
    file(GLOB _common CONFIGURE_DEPENDS ${KVBM_EXT_COMMON_DIR}/*.c)
    list(APPEND X_SOURCES ${_common})
  endif()
  set(_imported)
  foreach(p ${X_PKGS})
    string(MAKE_C_IDENTIFIER "KVBM_PKG_${p}" _v)
    if(NOT TARGET PkgConfig::${_v})
      pkg_check_modules(${_v} REQUIRED IMPORTED_TARGET GLOBAL ${p})
    endif()
    list(APPEND _imported PkgConfig::${_v})
  endforeach()

  add_library(kvbm_${n}_objects OBJECT ${X_SOURCES})
  target_include_directories(kvbm_${n}_objects PRIVATE ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR}/src)  # binary dir: kvbm/version.h
  target_compile_definitions(kvbm_${n}_objects PRIVATE KVBM_BUILDING KVBM_DEBUG=${KVBM_DEBUG})
  set_target_properties(kvbm_${n}_objects PROPERTIES C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(kvbm_${n}_objects PUBLIC ${_imported} Threads::Threads)

  add_library(kvbm_${n} SHARED $<TARGET_OBJECTS:kvbm_${n}_objects>)
  add_library(kvbm_${n}_static STATIC $<TARGET_OBJECTS:kvbm_${n}_objects>)
  set(_deps_shared)
  set(_deps_static)
  set(_pc_requires kvbm)
  foreach(d ${X_EXT_DEPS})
    list(APPEND _deps_shared kvbm_${d})
    list(APPEND _deps_static kvbm_${d}_static)
    string(APPEND _pc_requires " kvbm-${d}")
  endforeach()
  target_link_libraries(kvbm_${n} PUBLIC kvbm ${_deps_shared} PRIVATE ${_imported})
  target_link_libraries(kvbm_${n}_static PUBLIC ${_deps_static} kvbm_static ${_imported})
  foreach(t kvbm_${n} kvbm_${n}_static)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  set_target_properties(kvbm_${n} PROPERTIES VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set_target_properties(kvbm_${n}_static PROPERTIES OUTPUT_NAME kvbm_${n})
  add_library(kvbm::kvbm_${n} ALIAS kvbm_${n})
  install(TARGETS kvbm_${n} kvbm_${n}_static
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

  # kvbm-<name>.pc.in: the @KVBM_PC_*@ variables are filled at install time
  list(JOIN X_PKGS " " _pc_private)
  set(_pc_in ${PROJECT_BINARY_DIR}/pc/kvbm-${n}.pc.in)
  file(WRITE ${_pc_in}
"prefix=@KVBM_PC_PREFIX@
libdir=@KVBM_PC_LIBDIR@
includedir=@KVBM_PC_INCLUDEDIR@

Name: kvbm-${n}
Description: ${X_DESCRIPTION}
Version: @PROJECT_VERSION@
Requires: ${_pc_requires}
Requires.private: ${_pc_private}
Libs: -L\${libdir} -lkvbm_${n}
Cflags: -I\${includedir}
")
  set_property(GLOBAL APPEND PROPERTY KVBM_EXT_PC_FILES ${_pc_in})
endfunction()
