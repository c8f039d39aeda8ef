# install.cmake — what `cmake --install` lays out, and the pkg-config files.
#
#   <prefix>/lib/libember.so.0.1.0, libember.so.0 (SONAME), libember.so (link name)
#   <prefix>/include/ember/ember.h (and ember_plugin.h once it exists)
#   <prefix>/lib/ember/plugins/                 backend plugins (libember-<name>.so)
#   <prefix>/bin/ember                          the command-line tool
#   <prefix>/lib/pkgconfig/ember.pc             pkg-config --cflags --libs ember
#   <prefix>/lib/cmake/ember/                   find_package(ember) -> ember::ember
#
# ("lib" is CMAKE_INSTALL_LIBDIR: lib for /usr/local and other prefixes, the multiarch
# folder for /usr on Debian.) ember.pc is written at install time, so it names the
# prefix given to `cmake --install --prefix`, not only the configured one.
#
# The build tree also gets ember-uninstalled.pc: with the build folder on
# PKG_CONFIG_PATH, `pkg-config ember` uses the headers in api/ and the library in the
# build folder (pkg-config prefers NAME-uninstalled.pc), which is how the language
# bindings are tested without installing. See docs/install.md.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EMBER_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/ember)
set(EMBER_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/ember/plugins)
set(EMBER_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ember)

# ---- library, tool, headers, plugin folder ----
install(TARGETS ember EXPORT emberTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${EMBER_INSTALL_INCLUDEDIR})
install(TARGETS ember_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set(EMBER_PUBLIC_HEADERS ${CMAKE_SOURCE_DIR}/api/ember.h)
if(EXISTS ${CMAKE_SOURCE_DIR}/api/ember_plugin.h)
  list(APPEND EMBER_PUBLIC_HEADERS ${CMAKE_SOURCE_DIR}/api/ember_plugin.h)
endif()
install(FILES ${EMBER_PUBLIC_HEADERS} DESTINATION ${EMBER_INSTALL_INCLUDEDIR})
install(DIRECTORY DESTINATION ${EMBER_INSTALL_PLUGINDIR})
# A plugin built in this tree installs itself from its own CMakeLists.txt (included after
# this file): install(TARGETS <plugin> LIBRARY DESTINATION ${EMBER_INSTALL_PLUGINDIR}).

# ---- CMake package: emberConfig.cmake, emberConfigVersion.cmake, emberTargets.cmake ----
install(EXPORT emberTargets NAMESPACE ember:: DESTINATION ${EMBER_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/emberConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/emberConfig.cmake
                              INSTALL_DESTINATION ${EMBER_INSTALL_CMAKEDIR}
                              PATH_VARS EMBER_INSTALL_INCLUDEDIR EMBER_INSTALL_PLUGINDIR)
# The SONAME is libember.so.0 for every 0.x release, so any 0.x satisfies a 0.y request.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/emberConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/emberConfig.cmake ${CMAKE_BINARY_DIR}/emberConfigVersion.cmake
        DESTINATION ${EMBER_INSTALL_CMAKEDIR})

# ---- pkg-config: ember.pc, filled in at install time with the real prefix ----
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(EMBER_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(EMBER_PC_LIBDIR \"\\\${prefix}/${CMAKE_INSTALL_LIBDIR}\")
  set(EMBER_PC_INCLUDEDIR \"\\\${prefix}/${EMBER_INSTALL_INCLUDEDIR}\")
  set(EMBER_PC_PLUGINDIR \"\\\${libdir}/ember/plugins\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/ember.pc.in\" \"${CMAKE_BINARY_DIR}/pkgconfig-install/ember.pc\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/pkgconfig-install/ember.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- ember-uninstalled.pc in the build folder (for bindings and tests) ----
set(EMBER_PC_PREFIX ${CMAKE_BINARY_DIR})
set(EMBER_PC_LIBDIR "$<TARGET_FILE_DIR:ember>")
set(EMBER_PC_INCLUDEDIR ${CMAKE_SOURCE_DIR}/api)
set(EMBER_PC_PLUGINDIR ${CMAKE_BINARY_DIR}/plugins)
configure_file(${CMAKE_CURRENT_LIST_DIR}/ember.pc.in
               ${CMAKE_BINARY_DIR}/pkgconfig-uninstalled/ember-uninstalled.pc.in @ONLY)
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/ember-uninstalled.pc
     INPUT ${CMAKE_BINARY_DIR}/pkgconfig-uninstalled/ember-uninstalled.pc.in)
