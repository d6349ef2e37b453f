#!/bin/sh
# The installed SDK works out of tree: `meson install` into a scratch root, build the echo
# plugin with nothing but `pkg-config palaver-1` from there, and have the installed palaverd
# load it from the installed plugin directory's pkg-config variable.
set -u
build_root=$1
source_root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..3"

if meson install -C "$build_root" --destdir "$tmp/root" --no-rebuild >"$tmp/install.log" 2>&1; then
	echo "ok 1 meson install into a scratch root"
else
	echo "not ok 1 meson install into a scratch root"; sed 's/^/# /' "$tmp/install.log"; exit 1
fi

# the scratch root is not where the files will live: point the .pc file's prefix at it
pcfile=$(find "$tmp/root" -name palaver-1.pc | head -n 1)
prefix=$(sed -n 's/^prefix=//p' "$pcfile")
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pcfile" >"$tmp/pc/palaver-1.pc"
export PKG_CONFIG_PATH="$tmp/pc"
mkdir -p "$tmp/plugin"
printf '#define PACKAGE_VERSION "out-of-tree"\n' >"$tmp/plugin/config.h"
libdir=$(pkg-config --variable=libdir palaver-1)
# shellcheck disable=SC2046
if cc -shared -fPIC -Wall -Werror -o "$tmp/plugin/libpal-plugin-echo.so" \
	-I"$tmp/plugin" "$source_root/plugins/flow-echo/pal-echo-plugin.c" \
	$(pkg-config --cflags --libs palaver-1) -Wl,-rpath,"$libdir" 2>"$tmp/cc.log"; then
	echo "ok 2 the echo plugin builds against the installed headers and palaver-1.pc"
else
	echo "not ok 2 the echo plugin builds against the installed headers and palaver-1.pc"
	sed 's/^/# /' "$tmp/cc.log"; exit 1
fi

plugindir=$(pkg-config --variable=plugindir palaver-1)
palaverd=$(find "$tmp/root" -name palaverd -type f | head -n 1)
extra=""
[ "$(id -u)" = 0 ] || extra=--no-plugin-permission-check
# shellcheck disable=SC2086
out=$(LD_LIBRARY_PATH="$libdir" "$palaverd" --list-plugins --plugin-dir "$tmp/plugin" $extra 2>&1)
case "$out" in
*"echo [flow] out-of-tree"*)
	echo "ok 3 the installed palaverd loads it (plugindir variable: $plugindir)" ;;
*)
	echo "not ok 3 the installed palaverd loads it"; echo "$out" | sed 's/^/# /'; exit 1 ;;
esac
