# libzarrcore: build, install and test the C library.
#
#   make                      build target/release/libzarrcore.{so,a}
#   make install PREFIX=DIR   install lib/libzarrcore.so.0 (+ links), lib/libzarrcore.a,
#                             include/zarrcore.h, include/zarrcore.hpp and
#                             lib/pkgconfig/zarrcore.pc under DIR (default /usr/local;
#                             DESTDIR is honoured)
#   make uninstall PREFIX=DIR
#   make header               regenerate include/zarrcore.h with the pinned cbindgen
#   make test-ffi             the C/C++/Julia-binding test suite (tests/suites/ffi.sh)
#
# Then: cc app.c $(pkg-config --cflags --libs zarrcore)

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
CARGO      ?= cargo
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SONAME     := libzarrcore.so.0
RELEASE    := $(TARGET_DIR)/release

.PHONY: all build header install uninstall test-ffi

all: build

build:
	$(CARGO) build --release -p zarrcore-ffi

header:
	ZARRCORE_BLESS_HEADER=1 $(CARGO) test -p zarrcore-ffi --test header

install: build
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(RELEASE)/libzarrcore.so $(DESTDIR)$(LIBDIR)/libzarrcore.so.$(VERSION)
	ln -sf libzarrcore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libzarrcore.so
	install -m 0644 $(RELEASE)/libzarrcore.a $(DESTDIR)$(LIBDIR)/libzarrcore.a
	install -m 0644 include/zarrcore.h $(DESTDIR)$(INCLUDEDIR)/zarrcore.h
	install -m 0644 examples/cpp/zarrcore.hpp $(DESTDIR)$(INCLUDEDIR)/zarrcore.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    ffi/zarrcore.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/zarrcore.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libzarrcore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libzarrcore.so $(DESTDIR)$(LIBDIR)/libzarrcore.a \
	      $(DESTDIR)$(INCLUDEDIR)/zarrcore.h $(DESTDIR)$(INCLUDEDIR)/zarrcore.hpp \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/zarrcore.pc

test-ffi:
	bash tests/suites/ffi.sh
