#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run every test_*.sh in DIR (default: this directory), each in its own bash, and sum up.
# Exit 1 if any test script failed (exit 1, or anything but 0 and 4), 4 if all skipped.
#   selftests/run.sh [DIR] [NAME-FILTER]
dir=${1:-$(dirname "$0")}
filter=${2:-}
fail=0 ran=0 skipped=0
for t in "$dir"/test_*.sh; do
	[ -e "$t" ] || continue
	case $t in *"$filter"*) ;; *) continue ;; esac
	echo "# ---- $t"
	start=$(date +%s)
	bash "$t"
	rc=$?
	echo "# ---- $t: exit $rc ($(($(date +%s) - start)) s)"
	ran=$((ran + 1))
	case $rc in
	0) ;;
	4) skipped=$((skipped + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
done
echo "# selftests in $dir: $ran scripts, $fail failed, $skipped skipped"
[ $fail -gt 0 ] && exit 1
[ $ran -gt 0 ] && [ $skipped = $ran ] && exit 4
exit 0
