# reach — one entry point: deps, build, test, bench, demo.
# Pattern: bpf/*.bpf.c -> build/bpf/reach.bpf.c (one unit) -> build/reach.bpf.o -> build/reach.skel.h -> binaries.
# vmlinux.h is generated from the running kernel's BTF (/sys/kernel/btf/vmlinux)
# into build/: CO-RE relocations make the objects portable across kernels.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

OUT      := build
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
LLVM_STRIP ?= $(shell command -v llvm-strip || command -v llvm-strip-14 || echo llvm-strip)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS     := libbpf libelf zlib json-c yaml-0.1 libcrypto libprotobuf-c libcurl
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
            -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT) -DREACH_VERSION='"$(VERSION)"'
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -lz -ljson-c -lyaml -lcrypto -lprotobuf-c -lcurl) -lpthread

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(OUT) -Ibpf

# Pure user-space logic (no BPF): linked into the agent, the CLI and the unit tests.
LIB_SRCS := $(wildcard user/common/*.c user/agent/*.c user/reach/*.c user/config/*.c user/identity/*.c user/http/*.c user/mcp/*.c user/policy/*.c user/ship/*.c)
PROTO_OBJS := $(OUT)/proto/reach.pb-c.o $(OUT)/proto/otlp_logs.pb-c.o
LIB_OBJS := $(patsubst %.c,$(OUT)/%.o,$(LIB_SRCS)) $(PROTO_OBJS)
SENSOR_SRCS := $(wildcard user/sensor/*.c)
SENSOR_OBJS := $(patsubst %.c,$(OUT)/%.o,$(SENSOR_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
# Small C programs the end-to-end fixtures run (e.g. decoding shipped reports
# with protobuf-c): built by `make all`.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(OUT)/tests/tools/%,$(TOOL_SRCS))

BINS := $(OUT)/reachd $(if $(wildcard user/cmd/reachctl.c),$(OUT)/reachctl)

.PHONY: all deps test unit e2e fuzz demo bench clean
all: $(BINS) $(TOOL_BINS)

deps:
	$(Q)bash scripts/deps.sh

$(OUT)/vmlinux.h:
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# One translation unit including every bpf/*.bpf.c, compiled and turned into
# the skeleton as is. Not `bpftool gen object` (the static linker): the linker
# of libbpf 1.1 (Debian 12's) cannot link an object that calls a kfunc
# ("failed to resolve size of underlying type" on bpf_rdonly_cast, task.bpf.h),
# and one unit needs no linking: each header is compiled once, so the __weak
# definitions the linker used to merge are single already. DWARF is stripped
# (BTF stays): the skeleton embeds the object.
$(OUT)/bpf/reach.bpf.c: $(BPF_SRCS)
	$(Q)mkdir -p $(@D)
	$(Q)printf '#include "%s"\n' $(abspath $(BPF_SRCS)) > $@

$(OUT)/reach.bpf.o: $(OUT)/bpf/reach.bpf.c $(BPF_SRCS) $(wildcard bpf/*.bpf.h) $(wildcard include/abi/*.h) $(OUT)/vmlinux.h
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp
	$(Q)mv $@.tmp $@

$(OUT)/reach.skel.h: $(OUT)/reach.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name reach_bpf > $@

# proto/*.proto -> protobuf-c sources, compiled into libreach
.PRECIOUS: $(OUT)/proto/%.pb-c.c $(OUT)/proto/%.pb-c.h
$(OUT)/proto/%.pb-c.c $(OUT)/proto/%.pb-c.h: proto/%.proto
	$(Q)mkdir -p $(OUT)/proto
	$(Q)protoc-c --c_out=$(OUT)/proto -Iproto $<

$(OUT)/proto/%.pb-c.o: $(OUT)/proto/%.pb-c.c
	$(Q)$(CC) $(filter-out -Wextra,$(CFLAGS)) -I$(OUT)/proto -c $< -o $@

$(OUT)/user/%.o: user/%.c $(wildcard user/*/*.h) $(wildcard include/abi/*.h) $(OUT)/proto/reach.pb-c.h $(OUT)/proto/otlp_logs.pb-c.h
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -I$(OUT)/proto -c $< -o $@

$(SENSOR_OBJS): $(OUT)/reach.skel.h

$(OUT)/libreach.a: $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

# The agent: every cmd/ object but the CLI's own.
AGENT_SRCS := $(filter-out user/cmd/reachctl.c,$(wildcard user/cmd/*.c))
AGENT_OBJS := $(patsubst %.c,$(OUT)/%.o,$(AGENT_SRCS))
$(AGENT_OBJS): $(OUT)/reach.skel.h

$(OUT)/reachd: $(AGENT_OBJS) $(SENSOR_OBJS) $(OUT)/libreach.a
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/reachctl: $(OUT)/user/cmd/reachctl.o $(OUT)/libreach.a
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/tools/%: tests/tools/%.c $(OUT)/libreach.a
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -I$(OUT)/proto $< $(OUT)/libreach.a $(LDLIBS) -o $@

# The HTTP/2 credential path's CPU against HTTP/1's, one run (bench/workloads/bench_hpack.c).
$(OUT)/bench/bench_hpack: bench/workloads/bench_hpack.c $(OUT)/libreach.a
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libreach.a $(filter-out -lbpf,$(LDLIBS)) -o $@

# Unit tests link the user-space library without libbpf; the one test of a
# sensor/ map reader (test_dedup_snapshot, root: it creates a kernel map)
# links that object and libbpf too.
UNIT_LDLIBS := $(filter-out -lbpf,$(LDLIBS))
$(OUT)/tests/test_dedup_snapshot: $(OUT)/user/sensor/dedup_snapshot.o
$(OUT)/tests/test_dedup_snapshot: UNIT_LDLIBS := $(LDLIBS)
$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUT)/libreach.a
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -I$(OUT)/proto $< $(filter %.o,$^) $(OUT)/libreach.a $(UNIT_LDLIBS) -lcmocka -o $@

# `make test` installs what is missing, builds, runs every tier and ends with
# one line "N passed, N failed".
# the build on every CPU (a serial build took 62 s of CI's time, 32 s so)
test: deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all $(UNIT_BINS)
	$(Q)bash tests/run.sh

unit: $(UNIT_BINS)
	$(Q)bash tests/run.sh unit

e2e: all
	$(Q)bash tests/run.sh e2e

# libFuzzer targets for the parsers of untrusted bytes; FUZZ_SECONDS per target
fuzz:
	$(Q)FUZZ_SECONDS=$${FUZZ_SECONDS:-60} bash tests/run.sh fuzz

# Benchmarks: ratios against a baseline measured in the same run (bench/results.md).
# QUICK=1: a smoke run (about 2 minutes on a slow VM) that writes under bench/tmp/quick/.
bench: all
	$(Q)bash scripts/deps.sh --bench
	$(Q)python3 bench/run.py $(if $(QUICK),--quick)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash scripts/demo.sh

clean:
	rm -rf $(OUT)
