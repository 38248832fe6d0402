# cmake/ldconfig.cmake - kvbm_ldconfig(LIBDIR WHAT): refresh the loader cache after
# (un)installing into a system library directory (/usr/lib*, /usr/local/lib*) as root, or
# print what the user has to do instead.
function(kvbm_ldconfig libdir what)
  execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  find_program(_ldconfig ldconfig PATHS /sbin /usr/sbin)
  if(libdir MATCHES "^/usr(/local)?/lib")
    if(_uid STREQUAL "0" AND _ldconfig)
      execute_process(COMMAND ${_ldconfig})
      message(STATUS "kvbm ${what} in ${libdir}: ran ldconfig")
    else()
      message(STATUS "kvbm ${what} in ${libdir}: run 'sudo ldconfig' so that programs find libkvbm")
    endif()
  elseif(what STREQUAL "installed")
    message(STATUS "kvbm ${what} in ${libdir} (not a system directory): programs linked against "
                   "it need -Wl,-rpath,${libdir} or LD_LIBRARY_PATH=${libdir}")
  endif()
endfunction()
