# Thin wrapper over CMake + CTest. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build test test-asan demo bench format clean

all: build

build:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

test:
	@scripts/deps.sh test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Built with clang (gcc builds the other trees), so both compilers are held to -Werror.
test-asan:
	@scripts/deps.sh test
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/sluice

bench:
	@scripts/deps.sh bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory
	@for b in bench/*.sh; do echo "== $$b"; SLUICE=$(BUILD)/sluice $$b || exit 1; done

format:
	clang-format -i include/*.h src/*.[ch] src/*/*.[ch] cli/*.[ch] mock/*.[ch] tests/unit/*.[ch] tests/unit/*/*.[ch]

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
