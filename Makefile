# The two commands of the README:
#   make demo   install what is missing, build, run the end-to-end demo
#   make test   install what is missing, build, run the whole suite (unit,
#               end-to-end, MPI, an ASan+UBSan build of the suite, bounded fuzzing)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10

.PHONY: all setup build demo test test-fast test-asan fuzz format format-check bench clean

all: build

setup:
	@bash scripts/setup

build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j $(JOBS)

demo: build
	@bash scripts/demo.sh

test-fast: build
	@cd build && ctest --output-on-failure -j $(JOBS)

test-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLEAP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -E '^mpi\.'
	@cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -R '^mpi\.'

fuzz: setup
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	@git ls-files '*.c' '*.h' | grep -v '^tests/ref/' | xargs clang-format -i

format-check: setup
	@git ls-files '*.c' '*.h' | grep -v '^tests/ref/' | xargs clang-format --dry-run --Werror
	@echo "format-check: clean"

test: format-check test-fast test-asan fuzz
	@echo "make test: all suites passed"

bench: build
	@bash scripts/setup --bench
	@bash bench/lr.sh

clean:
	rm -rf build build-asan build-fuzz
