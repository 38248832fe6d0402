# Thin wrapper over CMake. `make`, `make test`, `make bench`, `make install PREFIX=/usr/local`.
BUILD  ?= build/release
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all configure test bench install uninstall clean run

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@./scripts/deps.sh
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

test:
	./scripts/test.sh

run:
	./scripts/run.sh

bench: all
	$(BUILD)/bench/bench_manager

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build
