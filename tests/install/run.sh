#!/usr/bin/env bash
# The install test (CTest install_tree): installs the build into a fresh prefix under
# the build folder, checks the layout, then builds tests/install/hello.c against the
# installed tree twice, with pkg-config and with a CMake project using find_package(ember),
# and runs both on a converted model. Also runs the installed `ember` tool.
#   run.sh BUILD_DIR SOURCE_DIR LIBDIR MODEL.ember
set -euo pipefail
build=$1 src=$2 libdir=$3 model=$4
work=$build/install-test
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
fail() { echo "install test: $*" >&2; exit 1; }

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }

echo "== layout"
for f in "$libdir/libember.so" "$libdir/libember.so.0" include/ember/ember.h bin/ember \
         "$libdir/pkgconfig/ember.pc" "$libdir/cmake/ember/emberConfig.cmake" \
         "$libdir/cmake/ember/emberConfigVersion.cmake" "$libdir/cmake/ember/emberTargets.cmake"; do
  [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
done
[ -d "$prefix/$libdir/ember/plugins" ] || fail "missing the plugin folder $prefix/$libdir/ember/plugins"
[ -f "$src/api/ember_plugin.h" ] && { [ -f "$prefix/include/ember/ember_plugin.h" ] || fail "ember_plugin.h not installed"; }
real=$(readlink -f "$prefix/$libdir/libember.so")
soname=$(objdump -p "$real" | awk '$1 == "SONAME" { print $2 }')  # awk reads all: no SIGPIPE
[ "$soname" = "libember.so.0" ] || fail "SONAME is '$soname', expected libember.so.0"
echo "libember.so -> $(basename "$real"), SONAME $soname"

echo "== pkg-config"
export PKG_CONFIG_LIBDIR="$prefix/$libdir/pkgconfig" PKG_CONFIG_DISABLE_UNINSTALLED=1
unset PKG_CONFIG_PATH
pkg-config --exists --print-errors ember || fail "pkg-config does not find ember.pc"
[ "$(pkg-config --variable=prefix ember)" = "$prefix" ] || fail "ember.pc prefix is $(pkg-config --variable=prefix ember), expected $prefix"
[ -d "$(pkg-config --variable=plugindir ember)" ] || fail "ember.pc plugindir does not exist"
pc_libdir=$(pkg-config --variable=libdir ember)
echo "ember $(pkg-config --modversion ember): $(pkg-config --cflags --libs ember)"
# shellcheck disable=SC2046
${CC:-cc} -Wall -Werror -o "$work/hello-pkgconfig" "$src/tests/install/hello.c" \
  $(pkg-config --cflags --libs ember) -Wl,-rpath,"$pc_libdir"
uses_installed() { case "$(ldd "$1")" in *"$prefix/$libdir/libember.so.0"*) return 0 ;; esac; return 1; }
uses_installed "$work/hello-pkgconfig" || fail "hello-pkgconfig does not use the installed library"
"$work/hello-pkgconfig" "$model"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_DISABLE_UNINSTALLED

echo "== find_package(ember)"
cmake -S "$src/tests/install" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" || { cat "$work/consumer.log"; fail "consumer configure failed"; }
grep "ember " "$work/consumer.log" || true
cmake --build "$work/consumer" >>"$work/consumer.log" || { cat "$work/consumer.log"; fail "consumer build failed"; }
uses_installed "$work/consumer/hello" || fail "the CMake-built hello does not use the installed library"
"$work/consumer/hello" "$model"

echo "== installed ember tool"
"$prefix/bin/ember" info "$model" >/dev/null || fail "installed 'ember info' failed"
echo "install test: ok"
