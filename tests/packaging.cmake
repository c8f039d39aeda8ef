# packaging.cmake — tests of what ships: the exported-symbol list, the ABI against the
# last release, the installed tree, and the Go, Rust and Python bindings.
# Included from tests/CMakeLists.txt; see docs/install.md and docs/bindings.md.

# ---- ABI: exported names must equal the committed list (api/ember.symbols) ----
add_test(NAME abi_symbols
         COMMAND bash ${CMAKE_SOURCE_DIR}/tools/abi_check.sh symbols $<TARGET_FILE:ember>
                 ${CMAKE_SOURCE_DIR}/api/ember.symbols)
# ---- ABI: abidiff against the last release's baseline (skipped until one is committed) ----
add_test(NAME abi_baseline
         COMMAND bash ${CMAKE_SOURCE_DIR}/tools/abi_check.sh abidiff $<TARGET_FILE:ember>
                 ${CMAKE_SOURCE_DIR}/api/abi/libember.so.abi)
set_tests_properties(abi_symbols abi_baseline PROPERTIES LABELS abi SKIP_RETURN_CODE 77)

# The rest loads libember.so into programs built outside this build (a C program,
# Go, Rust, Python); a sanitizer-instrumented library needs its runtime preloaded there,
# so these run in the plain build only.
if(EMBER_SANITIZE)
  return()
endif()

# ---- install: cmake --install into a temporary prefix, then build against it ----
add_test(NAME install_tree
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/run.sh ${CMAKE_BINARY_DIR}
                 ${CMAKE_SOURCE_DIR} ${CMAKE_INSTALL_LIBDIR}
                 ${CMAKE_BINARY_DIR}/models/mnist-8.ember)
set_tests_properties(install_tree PROPERTIES FIXTURES_REQUIRED models LABELS install
                     ENVIRONMENT "CC=${CMAKE_C_COMPILER}" TIMEOUT 600)

# ---- bindings: each language's own test suite (skipped when its toolchain is absent) ----
add_test(NAME bindings_classifiers
         COMMAND bash ${CMAKE_SOURCE_DIR}/bindings/convert_classifiers.sh $<TARGET_FILE:ember_cli>
                 $<TARGET_FILE:ember> ${CMAKE_BINARY_DIR} ${EMBER_SHARED_DIR})
set_tests_properties(bindings_classifiers PROPERTIES FIXTURES_SETUP classifiers LABELS bindings)
foreach(lang go rust python)
  add_test(NAME bindings_${lang}
           COMMAND bash ${CMAKE_SOURCE_DIR}/bindings/run_tests.sh ${lang} ${CMAKE_BINARY_DIR}
                   $<TARGET_FILE:ember>)
  set_tests_properties(bindings_${lang} PROPERTIES
                       FIXTURES_REQUIRED "models;classifiers;lm_models" LABELS bindings
                       SKIP_RETURN_CODE 77 TIMEOUT 1200
                       ENVIRONMENT "EMBER_SHARED_DIR=${EMBER_SHARED_DIR};CC=${CMAKE_C_COMPILER}")
endforeach()
