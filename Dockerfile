# The reach image: reachd (the node agent, deploy/base/daemonset.yaml) and
# reachctl (the CLI; also the verifier of the upgrade hooks, deploy/hooks/).
#
#   docker build -t reach:VERSION --build-arg VERSION=VERSION .
#   buildah bud -t reach:VERSION --build-arg VERSION=VERSION .
#   kaniko: --context=dir://REPO --dockerfile=Dockerfile --build-arg=VERSION=VERSION
#
# BTF: the BPF objects include vmlinux.h, which the Makefile generates from
# /sys/kernel/btf/vmlinux of the machine running the build (inside a build
# container that is the build host's kernel: any kernel with
# CONFIG_DEBUG_INFO_BTF, 5.8 or later). CO-RE relocates the objects at load
# time, so the image runs on other kernels than the builder's. A builder
# without BTF (or a reproducible build) passes a pinned header instead, a
# path inside the build context:
#   docker build --build-arg VMLINUX_H=deploy/vmlinux/x86_64.h -t reach:VERSION .
# The header must match the target architecture (x86_64 or aarch64).

FROM debian:bookworm AS build
# The "build" list of scripts/deps.sh, without what only the tests and the
# fuzzers use (libcmocka-dev, libclang-rt-14-dev), plus libc6-dev, which gcc
# only recommends (and --no-install-recommends skips).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang llvm make gcc libc6-dev pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev \
      libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libyaml-dev \
      libjson-c-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The version reachd --version and the reports carry (.git is not in the
# build context, see .dockerignore).
ARG VERSION=unknown
ARG VMLINUX_H=
RUN set -eu; \
    mkdir -p build; \
    if [ -n "$VMLINUX_H" ]; then \
      cp "$VMLINUX_H" build/vmlinux.h; \
    elif [ ! -r /sys/kernel/btf/vmlinux ]; then \
      echo "no /sys/kernel/btf/vmlinux on this builder: pass --build-arg VMLINUX_H=PATH (a vmlinux.h in the context)" >&2; \
      exit 1; \
    fi; \
    make VERSION="$VERSION" build/reachd build/reachctl

# Runtime: the shared libraries the two binaries link, nothing else (no
# compiler, no -dev package, no shell tools beyond the base image's).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libprotobuf-c1 libcurl4 libyaml-0-2 libjson-c5 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/reachd /src/build/reachctl /usr/local/bin/
# Mount points of the DaemonSet (config, policies, state, socket), present in
# the image so that a read-only root file system needs no runtime mkdir.
RUN mkdir -p /etc/reach/policies /var/lib/reach /run/reach
# Root on purpose, for reachd: BPF needs capabilities in the initial user
# namespace, and Kubernetes gives added capabilities to a non-root user only
# in the bounding set, where they cannot be used. The DaemonSet drops every
# capability but BPF, PERFMON, SYS_PTRACE and DAC_READ_SEARCH, and reachd
# --drop-caps keeps only those once attached. reachctl needs none: the
# verification Jobs run it as 65534 (runAsUser).
USER 0
ENTRYPOINT ["reachd"]
