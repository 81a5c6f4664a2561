# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xoff: BPF objects, their skeletons, the loader library, tests and benchmark.

OUT	?= build
CLANG	?= clang
BPFTOOL	?= bpftool
CC	?= gcc
ARCH	:= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

# Packages a bare Debian 12 needs to build, test and benchmark xoff.
DEB_PKGS := make gcc libc6-dev clang llvm pkg-config libbpf-dev libxdp-dev bpftool libelf-dev \
	    zlib1g-dev libmnl-dev libcriterion-dev linux-libc-dev iproute2 uthash-dev \
	    libjansson-dev qemu-system-x86 busybox-static kmod cpio xz-utils file

# Clang's own system include dirs, searched after ours so <asm/types.h> resolves
# for -target bpf (the libbpf-bootstrap way).
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	      -Wno-unused-parameter \
	      -Iinclude $(CLANG_BPF_SYS_INCLUDES)
CFLAGS	?= -O2 -g
CFLAGS	+= -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iuser -I$(OUT)
LDLIBS	:= -lmnl -lxdp -lbpf -lelf -lz -lm -ljansson

BPF_OBJS := $(OUT)/xoff.bpf.o $(OUT)/bench.bpf.o
SKELS	 := $(BPF_OBJS:.bpf.o=.skel.h)
LIB	 := $(OUT)/libxoff.a
LIB_OBJS := $(addprefix $(OUT)/,libxoff.o xfrm.o sync.o lpm.o mirror.o nl.o daemon.o pins.o attach.o report.o output.o cli.o probe.o)
XOFFCTL	 := $(OUT)/xoffctl
TESTS	 := $(OUT)/xoff-tests
BENCH	 := $(OUT)/xoff-bench
TEST_SRCS := $(wildcard tests/test_*.c)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PREFIX		?= /usr/local
DESTDIR		?=
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
# The systemd unit is installed for PREFIX=/usr, or wherever SYSTEMDUNITDIR says.
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
endif
INSTALL		?= install

.PHONY: all deps test test-vm bench clean install uninstall
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LIB) $(XOFFCTL) $(TESTS) $(BENCH)

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)" >&2; exit 1; fi
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi

$(OUT):
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c bpf/parse.h include/xoff/abi.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $(*))_bpf > $@ 2> $@.err \
		|| { cat $@.err >&2; rm -f $@.err; exit 1; }; rm -f $@.err

$(OUT)/%.o: user/%.c $(wildcard user/*.h) include/xoff/abi.h $(OUT)/xoff.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(XOFFCTL): $(OUT)/xoffctl.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) -o $@ $(LDLIBS)

$(TESTS): $(TEST_SRCS) $(wildcard tests/*.h) $(LIB) $(SKELS) $(XOFFCTL)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-override-init -Itests -DXOFF_OUT='"$(abspath $(OUT))"' \
		$(TEST_SRCS) $(LIB) -o $@ $(LDLIBS) -lcriterion

$(BENCH): tests/bench.c tests/bench_sync.c $(wildcard tests/*.h) $(LIB) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests tests/bench.c tests/bench_sync.c $(LIB) -o $@ $(LDLIBS) -lm

test: $(TESTS)
	bash tests/completion.sh
	$(TESTS) --jobs 1
	$(MAKE) --no-print-directory test-vm

# The same tests on Debian's own 6.1 kernel in a qemu VM (ESP, xfrm_user, the oldest
# verifier xoff supports); SKIP with the reason where the VM cannot run.
test-vm: $(TESTS)
	@selftests/vm/vm.sh -t 2400 -- $(abspath $(TESTS)) --jobs 1; rc=$$?; \
	if [ $$rc = 4 ]; then echo "SKIP: VM tests (reason above)"; exit 0; fi; exit $$rc

bench: $(BENCH)
	$(BENCH)

install: $(XOFFCTL)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0755 $(XOFFCTL) $(DESTDIR)$(SBINDIR)/xoffctl
	$(INSTALL) -m 0644 doc/xoffctl.8 $(DESTDIR)$(MANDIR)/man8/xoffctl.8
	$(INSTALL) -m 0644 contrib/bash-completion/xoffctl $(DESTDIR)$(BASHCOMPDIR)/xoffctl
ifneq ($(SYSTEMDUNITDIR),)
	$(INSTALL) -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|^ExecStart=/usr/sbin/xoffctl|ExecStart=$(SBINDIR)/xoffctl|' xoff.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/xoff.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/xoff.service
endif

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/xoffctl $(DESTDIR)$(MANDIR)/man8/xoffctl.8 \
		$(DESTDIR)$(BASHCOMPDIR)/xoffctl
ifneq ($(SYSTEMDUNITDIR),)
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/xoff.service
endif

clean:
	rm -rf $(OUT)
