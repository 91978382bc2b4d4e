# stilab: top-level GNU makefile.  `make help` lists the targets.

VERSION   := 0.1.0
SOVERSION := 0

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR    ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
LAB_DIR ?= lab

ifeq ($(SANITIZE),1)
B := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
else
B := build
SAN_FLAGS :=
endif

PKGS := libcrypto libssl sqlite3 libcurl jansson libmicrohttpd libosip2 gnutls
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wvla -Wno-unused-parameter
STI_CPPFLAGS := -D_GNU_SOURCE -DSTI_VERSION='"$(VERSION)"' -Ilib/include -Ilib -Icli
STI_CFLAGS := -std=c11 -fPIC -fvisibility=hidden $(WARN) $(SAN_FLAGS)
ALL_CFLAGS = $(STI_CPPFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) $(STI_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_SRC  := $(sort $(wildcard cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
HEADERS  := $(wildcard lib/include/*.h lib/include/sti/*.h lib/*.h cli/*.h)

STATIC_LIB := $(B)/libsti.a
SHARED_LIB := $(B)/libsti.so.$(VERSION)

PROGS := sti sti-ca sti-pa sti-cr
sti_DIR := tools
sti-ca_DIR := ca
sti-pa_DIR := pa
sti-cr_DIR := repo
BINS := $(PROGS:%=$(B)/bin/%)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_SUPPORT := $(wildcard tests/unit/support.c)
UNIT_SUPPORT_OBJ := $(UNIT_SUPPORT:%.c=$(B)/%.o)

MANPAGES := $(wildcard docs/man/*.[1-8])

.PHONY: all lib deps check test unit e2e install uninstall clean format lint \
	lab lab-down bench help man-lint
.DEFAULT_GOAL := all
.SECONDARY:

all: lib $(BINS)

lib: $(STATIC_LIB) $(SHARED_LIB)

help:
	@echo "make            build libsti and the tools into $(B)/"
	@echo "make lab        install packages, build, start a lab and test it"
	@echo "make lab-down   stop the lab's services"
	@echo "make check      install packages, build, run every test"
	@echo "make check SANITIZE=1   the same under ASan and UBSan"
	@echo "make bench      run the benchmarks (see docs/benchmarks.md)"
	@echo "make install    install into DESTDIR/PREFIX ($(PREFIX))"
	@echo "make format | lint | clean | uninstall"

deps:
	@sh scripts/deps.sh build check

$(B)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(STATIC_LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libsti.so.$(SOVERSION) $(ALL_LDFLAGS) \
		-o $@ $^ $(PKG_LIBS)
	ln -sf libsti.so.$(VERSION) $(B)/libsti.so.$(SOVERSION)
	ln -sf libsti.so.$(SOVERSION) $(B)/libsti.so

# Each program links its directory's sources, the shared CLI helpers and
# libsti.a, so the binaries in $(B)/bin run without LD_LIBRARY_PATH.
define prog_rule
$(B)/bin/$(1): $$(patsubst %.c,$(B)/%.o,$$(sort $$(wildcard $$($(1)_DIR)/*.c))) \
		$$(CLI_OBJ) $$(STATIC_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lpthread
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(B)/tests/%: tests/unit/%.c $(UNIT_SUPPORT_OBJ) $(STATIC_LIB) $(HEADERS) \
		tests/unit/support.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
		$(UNIT_SUPPORT_OBJ) $(STATIC_LIB) $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# check and lab install missing packages first, then re-enter make so that
# pkg-config sees them.
check: deps
	@$(MAKE) --no-print-directory test

test: all $(UNIT_BINS)
	@STI_BUILD=$(B) STI_TEST_DATA=tests/data sh tests/run.sh $(UNIT_BINS)

unit: $(UNIT_BINS)
	@STI_BUILD=$(B) STI_TEST_DATA=tests/data sh tests/run.sh --unit $(UNIT_BINS)

e2e: all
	@STI_BUILD=$(B) STI_TEST_DATA=tests/data sh tests/run.sh --e2e

man-lint:
	mandoc -Tlint -W warning $(MANPAGES)

lab: deps
	@$(MAKE) --no-print-directory all
	$(B)/bin/sti lab up --dir $(LAB_DIR)
	$(B)/bin/sti lab test --dir $(LAB_DIR)
	@echo "The lab keeps running; stop it with: make lab-down"

lab-down:
	$(B)/bin/sti lab down --dir $(LAB_DIR)

bench:
	@sh scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	sh bench/run.sh $(B)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR)/sti $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libsti.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsti.so.$(SOVERSION)
	ln -sf libsti.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libsti.so
	install -m 644 lib/include/sti.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 lib/include/sti/*.h $(DESTDIR)$(INCLUDEDIR)/sti/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		lib/libsti.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libsti.pc
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libsti.a $(DESTDIR)$(LIBDIR)/libsti.so \
		$(DESTDIR)$(LIBDIR)/libsti.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libsti.so.$(VERSION)
	rm -f $(DESTDIR)$(INCLUDEDIR)/sti.h
	rm -rf $(DESTDIR)$(INCLUDEDIR)/sti
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/libsti.pc
	rm -f $(MANPAGES:docs/man/%=$(DESTDIR)$(MANDIR)/man1/%)

clean:
	rm -rf build build-san

format:
	clang-format -i $$(find lib cli ca pa repo tools tests bench docs \
		-name '*.[ch]')

lint:
	cppcheck -q --std=c11 --enable=warning,portability,performance \
		--error-exitcode=1 --inline-suppr -Ilib/include -Ilib -Icli \
		--suppress=missingIncludeSystem lib cli ca pa repo tools
