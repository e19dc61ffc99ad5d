# Per-layer libraries whose dependencies point one way, enforced by the build.
#
#   streamsy_layer(NAME DIR dir [HEADERS h...] [EXPORTS h...] [DEPS layer...]
#                  [EXTERNAL target...] [EXCLUDE file.c...])
#
# Each layer is a static library streamsy_<NAME> built from DIR/*.c. It is
# compiled against an include tree of its own, ${CMAKE_BINARY_DIR}/layers/<NAME>/:
#   streamsy/<h>  a link to include/streamsy/<h> for the layer's own public
#                 headers and those of every layer below it, and nothing else;
#   base/         a link to src/base (base is for all layers);
#   <layer>/<h>   a link for each internal header a layer below EXPORTS to
#                 the layers above it (the server's use of the h2o front end).
# A layer's own internal headers are found next to its sources ("internal.h").
# So a lower layer that includes a higher layer's header does not compile, and
# tests/layers/check.sh (in ctest) fails on a call that goes upward or
# sideways (nm: every ss_ symbol a layer uses is defined by itself or below).
#
# ${CMAKE_BINARY_DIR}/layers.txt records "name|archive|allowed layers" for the check.

# STREAMSY_LAYER_PIC: compile the layers as position-independent code (the
# shared library is made of the same objects); the wasm sub-build sets OFF.
if(NOT DEFINED STREAMSY_LAYER_PIC)
  set(STREAMSY_LAYER_PIC ON)
endif()
# The repository root (the wasm sub-build sets it; it is elsewhere).
if(NOT STREAMSY_ROOT)
  set(STREAMSY_ROOT ${PROJECT_SOURCE_DIR})
endif()
file(WRITE ${CMAKE_BINARY_DIR}/layers.txt.in "")
add_library(streamsy_headers INTERFACE)
target_include_directories(streamsy_headers INTERFACE ${STREAMSY_ROOT}/include ${CMAKE_BINARY_DIR}/include)

function(streamsy_layer name)
  cmake_parse_arguments(L "" "DIR" "HEADERS;EXPORTS;DEPS;EXTERNAL;EXCLUDE" ${ARGN})
  # every layer below, transitively
  set(below ${L_DEPS})
  foreach(dep IN LISTS L_DEPS)
    get_property(dep_below GLOBAL PROPERTY STREAMSY_LAYER_BELOW_${dep})
    list(APPEND below ${dep_below})
  endforeach()
  if(NOT name STREQUAL "base")
    list(APPEND below base)
  endif()
  list(REMOVE_DUPLICATES below)
  set_property(GLOBAL PROPERTY STREAMSY_LAYER_BELOW_${name} ${below})
  set_property(GLOBAL PROPERTY STREAMSY_LAYER_HEADERS_${name} ${L_HEADERS})
  set_property(GLOBAL PROPERTY STREAMSY_LAYER_EXPORTS_${name} ${L_EXPORTS})
  set_property(GLOBAL PROPERTY STREAMSY_LAYER_DIR_${name} ${L_DIR})

  # the include tree
  set(tree ${CMAKE_BINARY_DIR}/layers/${name})
  file(REMOVE_RECURSE ${tree})
  file(MAKE_DIRECTORY ${tree}/streamsy)
  set(visible ${L_HEADERS})
  foreach(dep IN LISTS below)
    get_property(dep_headers GLOBAL PROPERTY STREAMSY_LAYER_HEADERS_${dep})
    list(APPEND visible ${dep_headers})
  endforeach()
  foreach(h IN LISTS visible)
    # include/streamsy/, or generated into the build (version.h)
    set(src ${STREAMSY_ROOT}/include/streamsy/${h})
    if(NOT EXISTS ${src})
      set(src ${CMAKE_BINARY_DIR}/include/streamsy/${h})
    endif()
    file(CREATE_LINK ${src} ${tree}/streamsy/${h} SYMBOLIC)
  endforeach()
  file(CREATE_LINK ${STREAMSY_ROOT}/src/base ${tree}/base SYMBOLIC)
  foreach(dep IN LISTS below)
    get_property(dep_exports GLOBAL PROPERTY STREAMSY_LAYER_EXPORTS_${dep})
    get_property(dep_dir GLOBAL PROPERTY STREAMSY_LAYER_DIR_${dep})
    foreach(h IN LISTS dep_exports)
      file(MAKE_DIRECTORY ${tree}/${dep})
      file(CREATE_LINK ${STREAMSY_ROOT}/${dep_dir}/${h} ${tree}/${dep}/${h} SYMBOLIC)
    endforeach()
  endforeach()

  file(GLOB sources CONFIGURE_DEPENDS ${STREAMSY_ROOT}/${L_DIR}/*.c)
  foreach(ex IN LISTS L_EXCLUDE)
    list(REMOVE_ITEM sources ${STREAMSY_ROOT}/${L_DIR}/${ex})
  endforeach()
  # The objects (also what the installable library is made of), and a
  # static library of them that links the layers below.
  add_library(streamsy_${name}_objects OBJECT ${sources})
  if(STREAMSY_LAYER_PIC)
    set_target_properties(streamsy_${name}_objects PROPERTIES POSITION_INDEPENDENT_CODE ON)
    # PIC (for the shared library) without its cost: calls within the library
    # may be inlined and bound directly, since nobody interposes our symbols
    # (measured: memory appends lost ~15 % without this).
    target_compile_options(streamsy_${name}_objects PRIVATE -fno-semantic-interposition)
  endif()
  target_include_directories(streamsy_${name}_objects PRIVATE ${tree})
  add_library(streamsy_${name} STATIC $<TARGET_OBJECTS:streamsy_${name}_objects>)
  # No INTERFACE include directories: they would reach the layers above.
  # Programs outside the layers (tests, examples) link streamsy_headers.
  foreach(dep IN LISTS L_DEPS)
    target_link_libraries(streamsy_${name} PUBLIC streamsy_${dep})
  endforeach()
  if(L_EXTERNAL)
    target_link_libraries(streamsy_${name}_objects PRIVATE ${L_EXTERNAL}) # their headers and definitions
    target_link_libraries(streamsy_${name} PUBLIC ${L_EXTERNAL})
  endif()
  set_property(GLOBAL APPEND PROPERTY STREAMSY_LAYERS ${name})
  string(REPLACE ";" " " below_text "${below}")
  file(APPEND ${CMAKE_BINARY_DIR}/layers.txt.in "${name}|$<TARGET_FILE:streamsy_${name}>|${below_text}\n")
endfunction()

# Call once after the last streamsy_layer().
function(streamsy_layers_done)
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/layers.txt INPUT ${CMAKE_BINARY_DIR}/layers.txt.in)
endfunction()
