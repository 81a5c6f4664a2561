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
	    libjansson-dev bash-completion qemu-system-x86 busybox-static kmod cpio xz-utils file jq xdp-tools iputils-ping \
	    tcpdump tcpreplay ethtool zstd debootstrap libssl-dev gnuplot-nox

# Clang's own system include dirs, searched after ours so <asm/types.h> resolves
# for -target bpf (the libbpf-bootstrap way).
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

# -mcpu=v3 (Linux 5.1+; xoff needs 6.1): atomic exchange for the SA cache's barrier.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	      -Wno-unused-parameter \
	      -Iinclude $(CLANG_BPF_SYS_INCLUDES)
CFLAGS	?= -O2 -g
CFLAGS	+= -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iuser -I$(OUT)
LDLIBS	:= -lmnl -lxdp -lbpf -lelf -lz -lm -ljansson

BPF_OBJS := $(OUT)/xoff.bpf.o $(OUT)/bench.bpf.o
SKELS	 := $(BPF_OBJS:.bpf.o=.skel.h)
LIB	 := $(OUT)/libxoff.a
LIB_OBJS := $(addprefix $(OUT)/,libxoff.o xfrm.o sync.o lpm.o mirror.o nl.o daemon.o pins.o attach.o report.o output.o cli.o probe.o \
			     rxcpu.o)
XOFFCTL	 := $(OUT)/xoffctl
TESTS	 := $(OUT)/xoff-tests
BENCH	 := $(OUT)/xoff-bench
TEST_SRCS := $(wildcard tests/test_*.c)
# Selftests: a crafted-frame generator and test-only BPF objects.
PKTGEN	 := $(OUT)/xoff-pktgen
COUNTERS := $(OUT)/xoff-counters
MIGRATE	 := $(OUT)/xoff-migrate
ESPCPU	 := $(OUT)/xoff-espcpu
# Real ESP, encrypted once at start and replayed (OpenSSL's libcrypto).
ESPLOAD	 := $(OUT)/xoff-espload
ST_BPF_OBJS := $(patsubst selftests/bpf/%.bpf.c,$(OUT)/%.bpf.o,$(wildcard selftests/bpf/*.bpf.c))

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

.PHONY: all deps test test-vm unit-vm selftest selftest-vm demo fuzz fuzz-seeds bench bench-vm clean install uninstall bench-decrypt
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LIB) $(XOFFCTL) $(TESTS) $(BENCH) $(PKTGEN) $(COUNTERS) $(MIGRATE) $(ESPCPU) $(ESPLOAD) \
     $(ST_BPF_OBJS)

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

$(OUT)/%.bpf.o: selftests/bpf/%.bpf.c bpf/parse.h include/xoff/abi.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -c $< -o $@

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

$(TESTS): $(TEST_SRCS) $(wildcard tests/*.h) $(LIB) $(SKELS) $(XOFFCTL) $(ESPLOAD) selftests/esp.c \
	  selftests/esp.h selftests/tool.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-override-init -Itests -Iselftests -DXOFF_OUT='"$(abspath $(OUT))"' \
		$(TEST_SRCS) selftests/esp.c $(LIB) -o $@ $(LDLIBS) -lcriterion -lcrypto

BENCH_SRCS := tests/bench.c tests/bench_sync.c tests/bench_xfrm.c tests/bench_veth.c
$(BENCH): $(BENCH_SRCS) $(wildcard tests/*.h) $(LIB) $(SKELS) $(XOFFCTL)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -DXOFF_OUT='"$(abspath $(OUT))"' $(BENCH_SRCS) $(LIB) -o $@ \
		$(LDLIBS) -lm -lpthread

$(PKTGEN): selftests/pktgen.c selftests/tool.h | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(COUNTERS): selftests/counters.c include/xoff/abi.h | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf

$(MIGRATE): selftests/migrate.c include/xoff/abi.h | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf

$(ESPCPU): selftests/espcpu.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf

$(ESPLOAD): selftests/espload.c selftests/esp.c selftests/esp.h selftests/tool.h | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) selftests/espload.c selftests/esp.c -o $@ -lcrypto

# What the end-to-end tests run (on this kernel and in the VM).
SELFTEST_DEPS := $(XOFFCTL) $(PKTGEN) $(COUNTERS) $(MIGRATE) $(ESPCPU) $(ESPLOAD) $(ST_BPF_OBJS)

test: all
	bash tests/completion.sh
	$(TESTS) --jobs 1
	$(MAKE) --no-print-directory fuzz FUZZ_SECS=60
	$(MAKE) --no-print-directory selftest
	$(MAKE) --no-print-directory test-vm

# End-to-end on this kernel: veth, namespaces, crafted frames (selftests/test_*.sh).
selftest: $(SELFTEST_DEPS)
	OUT=$(abspath $(OUT)) bash selftests/run.sh selftests

# In a qemu VM on Debian's own kernels (ESP, xfrm_user, the verifiers xoff supports), one
# after another: Debian 12's 6.1, the newest 6.12 LTS (bookworm-backports), the newest Debian
# kernel (selftests/vm/vm.sh). On each, the end-to-end tests with real SAs
# (selftests/vm/test_*.sh); on the first and the last, the unit suite too. SKIP with the
# reason where the VM cannot run; one kernel's failure does not stop the others.
XOFF_VM_KERNELS ?= 6.1 6.12 newest

test-vm: all $(SELFTEST_DEPS)
	@fail=""; first=$(firstword $(XOFF_VM_KERNELS)); last=$(lastword $(XOFF_VM_KERNELS)); \
	for k in $(XOFF_VM_KERNELS); do \
		echo "# ==== VM kernel $$k"; \
		if [ $$k = $$first ] || [ $$k = $$last ]; then \
			XOFF_VM_KERNEL=$$k $(MAKE) --no-print-directory unit-vm || fail="$$fail $$k(unit)"; \
		fi; \
		XOFF_VM_KERNEL=$$k $(MAKE) --no-print-directory selftest-vm || fail="$$fail $$k(selftests)"; \
	done; \
	if [ -n "$$fail" ]; then echo "# VM kernels failed:$$fail"; exit 1; fi; \
	echo "# VM kernels passed: $(XOFF_VM_KERNELS)"

unit-vm: all
	@selftests/vm/vm.sh -t 2400 -- $(abspath $(TESTS)) --jobs 1; rc=$$?; \
	if [ $$rc = 4 ]; then echo "SKIP: VM unit tests (reason above)"; exit 0; fi; exit $$rc

selftest-vm: $(SELFTEST_DEPS)
	@selftests/vm/vm.sh -t 1800 -- env OUT=$(abspath $(OUT)) bash selftests/run.sh selftests/vm; \
	rc=$$?; if [ $$rc = 4 ]; then echo "SKIP: VM selftests (reason above)"; exit 0; fi; exit $$rc

# libFuzzer (clang, ASan + UBSan) over the XFRM netlink parser, from the committed corpus;
# what it finds goes to $(OUT)/fuzz-corpus, crashes to $(OUT)/fuzz-crash-*.
FUZZ	  := $(OUT)/fuzz-xfrm
FUZZ_SECS ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -Iinclude -Iuser -I$(OUT)

$(FUZZ): fuzz/xfrm_parse.c user/xfrm.c user/xfrm.h $(LIB)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) fuzz/xfrm_parse.c user/xfrm.c $(LIB) -o $@ $(LDLIBS)

$(OUT)/fuzz-seeds: fuzz/seeds.c tests/xmsg.h $(LIB)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $< $(LIB) -o $@ $(LDLIBS)

fuzz: $(FUZZ)
	@mkdir -p $(OUT)/fuzz-corpus
	$(FUZZ) -max_total_time=$(FUZZ_SECS) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(OUT)/fuzz-crash- $(OUT)/fuzz-corpus fuzz/corpus/xfrm_parse

# The corpus: messages as the kernel lays them out (fuzz/seeds.c), plus what earlier runs
# found that adds coverage (merged with -merge=1, named by their SHA-1).
fuzz-seeds: $(OUT)/fuzz-seeds
	mkdir -p fuzz/corpus/xfrm_parse
	$(OUT)/fuzz-seeds fuzz/corpus/xfrm_parse

# Everything at work in one command, from a fresh Debian 12 (as root): packages, build,
# two namespaces with real SAs (in the VM when this kernel has no ESP), traffic, reports.
demo:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory all
	OUT=$(abspath $(OUT)) bash selftests/demo.sh

# Figures and ratios measured side by side in one run; the control plane against real ESP
# states runs in the VM on Debian's kernel (bench-vm), SKIP where qemu cannot run.
bench: $(BENCH)
	$(BENCH)
	$(MAKE) --no-print-directory bench-vm

# The control plane against real ESP states on Debian 12's kernel and the newest one (both
# under multi-threaded TCG: single-threaded, an event's latency is qemu's vCPU timeslice), then
# per-CPU SAs end to end on the newest (selftests/vm/test_pcpu.sh): the share of inbound
# per-CPU SA packets decrypted on their own CPU, with xoff and without (the baseline).
XOFF_BENCH_KERNELS ?= 6.1 newest

bench-vm: $(BENCH) $(SELFTEST_DEPS)
	@for k in $(XOFF_BENCH_KERNELS); do \
		XOFF_VM_KERNEL=$$k XOFF_VM_TCG_THREAD=multi selftests/vm/vm.sh -t 1200 -- $(abspath $(BENCH)) real; rc=$$?; \
		if [ $$rc = 4 ]; then echo "SKIP: VM bench on $$k (reason above)"; elif [ $$rc != 0 ]; then exit $$rc; fi; \
	done
	@XOFF_VM_KERNEL=newest selftests/vm/vm.sh -t 1200 -- env OUT=$(abspath $(OUT)) \
		bash selftests/vm/test_pcpu.sh > $(OUT)/bench-pcpu.log 2>&1; rc=$$?; \
	grep -E '^(vm: booted|SKIP|FAIL|# pcpu_on_own_cpu)' $(OUT)/bench-pcpu.log; \
	awk '/^# pcpu_on_own_cpu/ { x += $$5; b += $$7; n++ } \
	     END { if (n) printf "ratio pcpu_on_own_cpu %.2f (baseline without xoff %.2f; per_cpu_sas yes and encap)\n", x / n, b / n }' \
		$(OUT)/bench-pcpu.log; \
	if [ $$rc = 4 ]; then echo "SKIP: per-CPU SA bench (reason above)"; exit 0; fi; exit $$rc
	@$(MAKE) --no-print-directory bench-decrypt

# ESP decryption on real ESP, 2 vCPUs side by side (multi-threaded TCG) on Debian 12's
# kernel: the kernel alone, RPS over random SPI sets and xoff, N = 1, 2, 4, 8 SAs
# (selftests/vm/bench_decrypt.sh); the ratios, the limit from the measured costs and
# $(OUT)/decrypt.svg (selftests/decrypt_report.sh). Booted once more after a crash of the VM.
XOFF_DECRYPT_KERNEL ?= 6.1

bench-decrypt: $(SELFTEST_DEPS)
	@for try in 1 2; do \
		XOFF_VM_KERNEL=$(XOFF_DECRYPT_KERNEL) XOFF_VM_TCG_THREAD=multi XOFF_VM_SMP=2 \
		selftests/vm/vm.sh -t 1500 -- env OUT=$(abspath $(OUT)) \
			bash selftests/vm/bench_decrypt.sh > $(OUT)/bench-decrypt.log 2>&1; rc=$$?; \
		grep -Eq '^# bench_decrypt: PASS [0-9]+ FAIL' $(OUT)/bench-decrypt.log && break; \
		[ $$rc = 4 ] && break; \
		echo "# decrypt bench: the VM stopped (exit $$rc) $$([ $$try = 1 ] && echo ', once more')"; \
	done; \
	grep -E '^(vm: booted|SKIP|FAIL|# (decrypt|cost|generator|N=))' $(OUT)/bench-decrypt.log; \
	if [ $$rc = 4 ]; then echo "SKIP: decrypt bench (reason above)"; exit 0; fi; \
	[ $$rc = 0 ] || { tail -n 40 $(OUT)/bench-decrypt.log; exit $$rc; }; \
	bash selftests/decrypt_report.sh $(OUT)/bench-decrypt.log $(OUT)

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
