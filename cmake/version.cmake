# The version, from the repository's VERSION file (its only source), and
# streamsy/version.h generated from include/streamsy/version.h.in into
# ${CMAKE_BINARY_DIR}/include (where cmake/layers.cmake finds generated headers).
file(READ ${STREAMSY_ROOT}/VERSION STREAMSY_VERSION)
string(STRIP "${STREAMSY_VERSION}" STREAMSY_VERSION)
if(NOT STREAMSY_VERSION MATCHES "^([0-9]+)\\.([0-9]+)\\.([0-9]+)$")
  message(FATAL_ERROR "VERSION must be MAJOR.MINOR.PATCH, not '${STREAMSY_VERSION}'")
endif()
set(STREAMSY_VERSION_MAJOR ${CMAKE_MATCH_1})
set(STREAMSY_VERSION_MINOR ${CMAKE_MATCH_2})
set(STREAMSY_VERSION_PATCH ${CMAKE_MATCH_3})
configure_file(${STREAMSY_ROOT}/include/streamsy/version.h.in ${CMAKE_BINARY_DIR}/include/streamsy/version.h @ONLY)
