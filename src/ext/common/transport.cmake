# src/ext/common/transport.cmake - kvbm_transport_library(NAME PKG SOURCES...): the shared
# library kvbm_<NAME> (links libkvbm.so) and the static kvbm_<NAME>_static (links
# kvbm_static), both with src/ext/common/*.c (queue, URL parsing) compiled in and the
# pkg-config module PKG (a Debian -dev package) as their dependency; installed with a
# kvbm-<NAME>.pc file and as kvbm::kvbm_<NAME> in the kvbm CMake package.
include_guard(GLOBAL)
set(KVBM_EXT_COMMON_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "src/ext/common")
function(kvbm_transport_library name pkg)
  pkg_check_modules(KVBM_DEP_${name} REQUIRED IMPORTED_TARGET ${pkg})
  file(GLOB _common CONFIGURE_DEPENDS ${KVBM_EXT_COMMON_DIR}/*.c)
  add_library(kvbm_${name}_objects OBJECT ${ARGN} ${_common})
  target_include_directories(kvbm_${name}_objects PRIVATE ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(kvbm_${name}_objects PRIVATE KVBM_BUILDING KVBM_DEBUG=${KVBM_DEBUG})
  set_target_properties(kvbm_${name}_objects PROPERTIES C_VISIBILITY_PRESET hidden)
  target_link_libraries(kvbm_${name}_objects PUBLIC PkgConfig::KVBM_DEP_${name} Threads::Threads)
  add_library(kvbm_${name} SHARED $<TARGET_OBJECTS:kvbm_${name}_objects>)
  add_library(kvbm_${name}_static STATIC $<TARGET_OBJECTS:kvbm_${name}_objects>)
  target_link_libraries(kvbm_${name} PUBLIC kvbm PRIVATE PkgConfig::KVBM_DEP_${name})
  target_link_libraries(kvbm_${name}_static PUBLIC kvbm_static PkgConfig::KVBM_DEP_${name})
  foreach(t kvbm_${name} kvbm_${name}_static)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  set_target_properties(kvbm_${name} PROPERTIES VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set_target_properties(kvbm_${name}_static PROPERTIES OUTPUT_NAME kvbm_${name})
  install(TARGETS kvbm_${name}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  # kvbm-<name>.pc is written at install time, with the prefix actually installed to
  install(CODE "set(KVBM_SRC \"${PROJECT_SOURCE_DIR}\")
    set(KVBM_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(KVBM_INCDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(KVBM_VERSION \"${PROJECT_VERSION}\")
    set(KVBM_EXT_NAME \"${name}\")
    set(KVBM_EXT_PKG \"${pkg}\")
    include(\"${KVBM_EXT_COMMON_DIR}/install_pc.cmake\")")
endfunction()
