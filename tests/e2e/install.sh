# make install and uninstall into temporary prefixes, and the example
# program in docs/examples built against the installed library with
# pkg-config.
. tests/e2e/lib.sh

san=0
case "$STI_BUILD" in *san*) san=1 ;; esac
prefix="$T/prefix"

check_status "make install PREFIX" 0 \
    make -s --no-print-directory install PREFIX="$prefix" SANITIZE=$san
for f in bin/sti bin/sti-ca bin/sti-pa bin/sti-cr lib/libsti.a \
    lib/libsti.so lib/libsti.so.0 include/sti.h include/sti/verify.h \
    lib/pkgconfig/libsti.pc share/man/man1/sti.1; do
    if [ -e "$prefix/$f" ]; then ok "installed $f"; else fail "missing $f"; fi
done

soname=$(readelf -d "$prefix/lib/libsti.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check_eq "versioned soname" "libsti.so.0" "$soname"
others=$(nm -D --defined-only "$prefix/lib/libsti.so" |
    awk '$2 ~ /^[TDBR]$/ && $3 !~ /^sti_/ && $3 !~ /^_/ {print $3}' | head -5)
check_eq "only sti_ symbols exported" "" "$others"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs libsti)
check_contains "pkg-config names the prefix" "-I$prefix/include" "$flags"
extra=""
[ $san -eq 1 ] && extra="-fsanitize=address,undefined"
# shellcheck disable=SC2086
check_status "example builds with pkg-config" 0 \
    cc -std=c11 -Wall -Werror $extra -o "$T/sti-example" \
    docs/examples/sti-example.c $flags

openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$T/key.pem"
openssl req -x509 -new -key "$T/key.pem" -subj "/CN=SHAKEN 1234/O=Lab/C=US" \
    -days 30 -out "$T/cert.pem" 2>/dev/null

export LD_LIBRARY_PATH="$prefix/lib"
identity=$("$T/sti-example" sign "$T/key.pem" https://127.0.0.1/x.pem \
    12025550100 12025550101)
check_contains "example signs" ";info=<https://127.0.0.1/x.pem>" "$identity"
out=$("$T/sti-example" check "$T/cert.pem" "$identity")
check_contains "example checks the signature" "signature valid" "$out"

# Flip one character of the signature: the check must fail.
jws=${identity%%;*}
params=${identity#"$jws"}
last=$(printf %s "$jws" | tail -c 2 | head -c 1)
if [ "$last" = A ]; then swap=B; else swap=A; fi
bad="$(printf %s "$jws" | head -c $((${#jws} - 2)))$swap$(printf %s "$jws" | tail -c 1)$params"
check_status "example rejects a tampered signature" 1 \
    "$T/sti-example" check "$T/cert.pem" "$bad"
unset LD_LIBRARY_PATH

check_status "make uninstall" 0 \
    make -s --no-print-directory uninstall PREFIX="$prefix" SANITIZE=$san
left=$(find "$prefix" -type f -o -type l | head -5)
check_eq "uninstall leaves no files" "" "$left"

check_status "make install DESTDIR" 0 make -s --no-print-directory install \
    DESTDIR="$T/dest" PREFIX=/usr SANITIZE=$san
if [ -e "$T/dest/usr/lib/libsti.so.0" ]; then
    ok "DESTDIR honoured"
else
    fail "DESTDIR not honoured"
fi
check_contains "pc file names the final prefix" "prefix=/usr" \
    "$(cat "$T/dest/usr/lib/pkgconfig/libsti.pc")"

finish
