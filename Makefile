# Thin wrapper over CMake; `make help` lists the targets.
BUILD  ?= build/release
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

.PHONY: all configure test run bench install uninstall clean help

all: configure
	@cmake --build $(BUILD) -j $(JOBS)

configure:
	@./scripts/deps.sh
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	       -DKVBM_BUILD_TESTS=OFF -DKVBM_BUILD_BENCH=OFF >/dev/null

test:
	@./scripts/test.sh

run:
	@./scripts/run.sh

bench:
	@./scripts/deps.sh
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DKVBM_BUILD_TESTS=OFF -DKVBM_BUILD_BENCH=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target bench_manager
	build/bench/bench/bench_manager

install: all
	@cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	@cmake --build $(BUILD) --target uninstall

clean:
	rm -rf build

help:
	@echo "make [all]                     library + kvbm tool, Release, in $(BUILD)"
	@echo "make run                       scripts/run.sh: build the tool and replay the synthetic workload"
	@echo "make test                      scripts/test.sh: gcc Release, clang ASan+UBSan, clang TSan builds + every test"
	@echo "make bench                     build and run the benchmark matrix (build/bench)"
	@echo "make install [PREFIX=/usr/local]  install headers, libraries, pkg-config and CMake files, man page, kvbm;"
	@echo "                               into /usr or /usr/local as root it runs ldconfig"
	@echo "make uninstall                 remove what the last 'make install' installed"
	@echo "make clean                     remove build/"
	@echo "variables: BUILD=$(BUILD) PREFIX=$(PREFIX) JOBS=$(JOBS)"
