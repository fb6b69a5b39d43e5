# Thin wrapper over CMake + CTest. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# make fuzz: how long each target runs, and which (tests/fuzz/README.md)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= source classify_headers classify_body json h1_answer rreply resume

.PHONY: all build test test-asan fuzz demo bench format clean

all: build

build:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# Both test trees also run each fuzz target for a few seconds (label fuzz; a gcc tree builds
# them with clang in $(BUILD)/fuzz).
test:
	@scripts/deps.sh test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON -DSLUICE_FUZZ=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Built with clang (gcc builds the other trees), so both compilers are held to -Werror.
test-asan:
	@scripts/deps.sh test
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON \
		-DSLUICE_WERROR=ON -DSLUICE_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

# Each fuzz target in turn for FUZZ_SECONDS, from its seed corpus and what earlier runs found.
fuzz:
	@scripts/deps.sh test
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all -- --no-print-directory
	@failed=; for t in $(FUZZ_TARGETS); do \
		tests/fuzz/run.sh $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t $(FUZZ_SECONDS) || failed="$$failed $$t"; \
	done; [ -z "$$failed" ] || { echo "make fuzz: failed:$$failed"; exit 1; }

demo: build
	@scripts/demo.sh $(BUILD)/sluice

bench:
	@scripts/deps.sh bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory
	@for b in bench/*.sh; do echo "== $$b"; SLUICE=$(BUILD)/sluice $$b || exit 1; done

format:
	clang-format -i include/*.h src/*.[ch] src/*/*.[ch] cli/*.[ch] mock/*.[ch] tests/unit/*.[ch] \
		tests/unit/*/*.[ch] tests/fuzz/*.[ch]

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
