#!/bin/bash
# Every document the repo cites exists (issue 17, item 18: DESIGN.md was cited 19 times and
# only ../shared held it). A citation is a path ending in .md in the sources, scripts, tests,
# benches and docs; it must name a file from the repo's root or from the citing file's folder.
. "$SRCDIR/tests/e2e/lib/common.sh"
cd "$SRCDIR"
missing=0
while IFS=: read -r file cited; do
    cited=${cited#SRCDIR/}
    case "$cited" in http*) continue ;; esac
    [ -f "$cited" ] || [ -f "$(dirname "$file")/$cited" ] || {
        echo "$file cites $cited, which is not in the repo"
        missing=$((missing + 1))
    }
done < <(grep -rIoE '[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b' --include='*.[ch]' --include='*.sh' \
    --include='*.md' --include='*.py' --include='CMakeLists.txt' --include='Makefile' \
    src cli mock include tests bench scripts docs README.md CMakeLists.txt Makefile |
    grep -v '^tests/e2e/docs_cited.sh:' | sort -u)
[ "$missing" = 0 ] || fail "$missing cited documents are missing"
echo ok
