# rstrace: `make trace` builds what is missing and starts a live trace;
# `make test` builds and runs the whole suite. Both are idempotent and quick
# when nothing changed.

SHELL := /bin/bash
APT_PACKAGES := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config iproute2 \
	nftables tcpdump prometheus util-linux libcap2-bin procps gcc g++ make python3 systemd bpftrace chromium tmux
# The commands that prove each package is there; apt-get runs only when one is missing.
APT_PROBES := /usr/bin/clang /usr/bin/llc /usr/include/bpf/libbpf.h /usr/sbin/bpftool \
	/usr/include/gelf.h /usr/include/zlib.h /usr/bin/pkg-config /usr/sbin/ip /usr/sbin/nft \
	/usr/bin/tcpdump /usr/bin/prometheus /usr/bin/setpriv /usr/sbin/capsh /usr/bin/pgrep \
	/usr/bin/gcc /usr/bin/g++ /usr/bin/python3 /usr/bin/systemd-analyze /usr/bin/bpftrace /usr/bin/chromium /usr/bin/tmux

BPF_SRC := $(wildcard bpf/*.bpf.c bpf/*.bpf.h) bpf/rstrace.h
ADDON := native/build/Release/rstrace.node
TS_SRC := $(shell find src scripts bench -name '*.ts' 2>/dev/null)
CFLAGS_TOOLS := -O2 -Wall -Wextra -pthread

.PHONY: build deps trace test bench soak clean

build: deps build/rstrace.bpf.o $(ADDON) .stamp-ts build/rstpeer build/sock_destroy.bpf.o bench/build/loadgen bench/build/c-consumer

deps: .stamp-apt node_modules/.package-lock.json

.stamp-apt:
	@missing=0; for p in $(APT_PROBES); do [ -e $$p ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "make: installing Debian packages: $(APT_PACKAGES)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null || \
		{ echo "make: apt-get failed: run 'apt-get install $(APT_PACKAGES)' as root"; exit 1; }; \
	fi
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build/rstrace.bpf.o: $(BPF_SRC) scripts/build-bpf.ts scripts/btf-layout.ts | deps
	npx tsx scripts/build-bpf.ts

$(ADDON): $(wildcard native/*.cc native/*.h) native/binding.gyp build/rstrace.bpf.o
	cd native && npx node-gyp rebuild --silent

# tsc compiles src/kernel/layout.generated.ts, which the BPF build (re)writes.
.stamp-ts: $(TS_SRC) tsconfig.json node_modules/.package-lock.json build/rstrace.bpf.o
	npx tsc -p tsconfig.json
	@touch $@

build/rstpeer: test/peers/rstpeer.c | deps
	@mkdir -p build
	gcc $(CFLAGS_TOOLS) -o $@ $<

# Test fixture for code 8: a TCP iterator that calls bpf_sock_destroy().
build/sock_destroy.bpf.o: test/fixtures/sock_destroy.bpf.c build/rstrace.bpf.o
	clang -g -O2 -target bpf -Wall -Werror -Ibuild -c $< -o $@

bench/build/loadgen: bench/loadgen.c | deps
	@mkdir -p bench/build
	gcc $(CFLAGS_TOOLS) -o $@ $<

# The benchmark's ceiling: the least a libbpf consumer of build/rstrace.bpf.o does.
bench/build/c-consumer: bench/c-consumer.c bpf/rstrace.h | deps
	@mkdir -p bench/build
	gcc $(CFLAGS_TOOLS) -o $@ $< $$(pkg-config --cflags --libs libbpf)

trace: build
	bin/rstrace trace

test: build
	@mkdir -p build
	# tests and benchmarks are held to the same strict compiler settings as src/
	npx tsc -p tsconfig.check.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=build/vitest.json; \
	status=$$?; [ -f build/vitest.json ] && node scripts/test-summary.mjs build/vitest.json; exit $$status

# The interleaved benchmark (storm, churn, ping-pong: about seven minutes), the offline
# trace-file benchmark, then the 10-minute soak (SOAK_SECONDS to change; alone: make soak).
bench: build
	npx tsx bench/run.ts
	npx tsx bench/tracefile-bench.ts --write
	npx tsx bench/soak.ts

soak: build
	npx tsx bench/soak.ts

clean:
	rm -rf build native/build dist bench/build .stamp-*
