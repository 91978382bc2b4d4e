#!/bin/sh
# Every manual page in docs/man passes mandoc -Tlint at warning level, and
# sti-lint(1) lists every lint rule.
. tests/e2e/lib.sh

for page in "$STI_ROOT"/docs/man/*.[1-8]; do
    [ -f "$page" ] || continue
    check_status "$(basename "$page") mandoc -Tlint" 0 \
        mandoc -Tlint -W warning "$page"
done
for page in sti.1 sti-ca.1 sti-inspect.1 sti-lint.1 sti-sign.1 \
    sti-verify.1 sti-serve.1; do
    check_eq "$page exists" yes \
        "$([ -f "$STI_ROOT/docs/man/$page" ] && echo yes || echo no)"
done

# The pages of sti and of these commands name only pages that exist.
for page in sti.1 sti-ca.1 sti-inspect.1 sti-lint.1 sti-sign.1 \
    sti-verify.1 sti-serve.1; do
    missing=""
    for ref in $(sed -n 's/^\.Xr \(sti[a-z-]*\) \([0-9]\).*/\1.\2/p' \
        "$STI_ROOT/docs/man/$page" | sort -u); do
        [ -f "$STI_ROOT/docs/man/$ref" ] || missing="$missing $ref"
    done
    check_eq "$page names existing pages" "" "$missing"
done

# sti-sign(1), sti-verify(1) and sti-serve(1) document every option that
# --help lists.  Pages write a hyphen as \-, and .Fl adds one dash, so
# --key reads "Fl \-key"; backslashes are dropped before the search.
for cmd in sign verify serve; do
    page=$(tr -d '\\' <"$STI_ROOT/docs/man/sti-$cmd.1")
    for opt in $(sti "$cmd" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' |
        sort -u); do
        check_contains "sti-$cmd.1 documents $opt" "Fl -${opt#--}" "$page"
    done
done

# sti-lint(1) documents every rule that lib/lint.c can report.
for rule in $(grep -o '"[ewn]_[a-z0-9_]*"' "$STI_ROOT/lib/lint.c" |
    tr -d '"' | sort -u); do
    check_contains "sti-lint.1 documents $rule" "$rule" \
        "$(cat "$STI_ROOT/docs/man/sti-lint.1")"
done

finish
