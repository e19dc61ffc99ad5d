# Toolchain for the wasm32-wasi build (cmake/wasm): Debian's clang-14 and
# wasi-libc, against a sysroot that holds nothing but wasi-libc, so that a
# host header (jansson, sqlite3, h2o) can never "compile" into the module.
#
#   STREAMSY_WASM_CC        clang (default clang-14)
#   STREAMSY_WASI_SYSROOT   the clean sysroot (include/ and lib/wasm32-wasi/)
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(CMAKE_C_COMPILER ${STREAMSY_WASM_CC})
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_SYSROOT ${STREAMSY_WASI_SYSROOT})
# -nostdlibinc drops every system include directory (the sysroot's too) but
# keeps clang's own (stddef.h, stdbool.h); wasi-libc's headers come back alone.
set(CMAKE_C_FLAGS_INIT "-nostdlibinc -isystem ${STREAMSY_WASI_SYSROOT}/include")
find_program(CMAKE_AR NAMES llvm-ar-14 llvm-ar REQUIRED)
find_program(CMAKE_RANLIB NAMES llvm-ranlib-14 llvm-ranlib REQUIRED)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
