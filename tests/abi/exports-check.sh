#!/bin/sh
# tests/abi/exports-check.sh — every module in $MODHOST_MODULE_PATH exports
# exactly one symbol, its descriptor mh_module_v1 (DESIGN.md §4.2): no other
# defined global or weak symbol in its dynamic symbol table.
#
# Exit 0 when every module passes, 1 naming each offending module and
# symbol, 99 (hard error) when there are no modules to check.
set -eu

dir=${MODHOST_MODULE_PATH:-}
want=mh_module_v1

if [ -z "$dir" ] || [ ! -d "$dir" ]; then
	echo "exports-check: MODHOST_MODULE_PATH is not a folder: '$dir'" >&2
	exit 99
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
status=0
found=0
for so in "$dir"/*.so; do
	[ -e "$so" ] || continue
	found=$((found + 1))
	if ! readelf --dyn-syms -W "$so" >"$tmp" 2>&1; then
		echo "exports-check: $so: readelf failed:"
		cat "$tmp"
		status=1
		continue
	fi
	# Columns: Num: Value Size Type Bind Vis Ndx Name[@version]
	exported=$(awk '
		NF >= 8 && $1 ~ /^[0-9]+:$/ && $7 != "UND" && $4 != "SECTION" &&
		($5 == "GLOBAL" || $5 == "WEAK" || $5 == "UNIQUE") {
			name = $8
			sub(/@.*/, "", name)
			print name
		}' "$tmp")
	has_desc=no
	for sym in $exported; do
		if [ "$sym" = "$want" ]; then
			has_desc=yes
		else
			echo "exports-check: $so exports '$sym'; a module may export only $want" \
				"(build it with the SDK's version script, sdk/module.map)"
			status=1
		fi
	done
	if [ $has_desc = no ]; then
		echo "exports-check: $so does not export $want"
		status=1
	fi
done

if [ $found = 0 ]; then
	echo "exports-check: no modules (*.so) in $dir" >&2
	exit 99
fi
[ $status = 0 ] && echo "exports-check: $found module(s) export only $want"
exit $status
