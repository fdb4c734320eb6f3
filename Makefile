# A thin front for meson: the two commands a fresh machine needs are
# `make demo` and `make test`. Everything else is meson and ninja.

BUILD     ?= build
BUILD_SAN ?= build-san
MESON     ?= meson
NINJA     ?= ninja

# Sanitizer runs must fail on the first report, not just print it.
SAN_ENV = ASAN_OPTIONS=$${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=$$(scripts/lsan-works.sh $(BUILD_SAN)/tilejit)} \
          UBSAN_OPTIONS=$${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

.PHONY: all deps build build-san demo test unit-test san-test gpu-test install clean

all: build

# Installs meson, ninja, pkg-config, a C compiler and pytest (the Python
# binding's tests) with apt-get when any is missing (sudo only when not
# root). Does nothing when all are present.
deps:
	@missing=""; \
	command -v $(MESON) >/dev/null 2>&1 || missing="$$missing meson"; \
	command -v $(NINJA) >/dev/null 2>&1 || missing="$$missing ninja-build"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	{ python3 -c 'import pytest' 2>/dev/null || /usr/bin/python3 -c 'import pytest' 2>/dev/null; } || \
	  missing="$$missing python3-pytest"; \
	{ command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || \
	  command -v clang >/dev/null 2>&1; } || missing="$$missing gcc libc6-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi; \
	if ! command -v llvm-config-19 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing: llvm-19-dev (optional: the LLVM back end)"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  { $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q \
	    --no-install-recommends llvm-19-dev; } || echo "no llvm-19-dev: building without the LLVM back end"; \
	fi

$(BUILD)/build.ninja: | deps
	$(MESON) setup $(BUILD)

$(BUILD_SAN)/build.ninja: | deps
	$(MESON) setup $(BUILD_SAN) -Db_sanitize=address,undefined -Db_lundef=false

build: $(BUILD)/build.ninja
	$(NINJA) -C $(BUILD)

build-san: $(BUILD_SAN)/build.ninja
	$(NINJA) -C $(BUILD_SAN)

demo: build
	$(BUILD)/tilejit demo --bundle $(BUILD)/tilejit-demo.bundle

# Every suite in build/, then the unit suite under ASan+UBSan in build-san/;
# the last line is the sum of both: "N passed, N failed, N skipped". A build
# that fails counts as one failed test, so that line is always there.
test: $(BUILD)/build.ninja $(BUILD_SAN)/build.ninja
	@rm -f $(BUILD)/meson-logs/testlog.json $(BUILD_SAN)/meson-logs/testlog.json; \
	logs=""; \
	if $(NINJA) -C $(BUILD); then \
	  $(MESON) test -C $(BUILD) --print-errorlogs; \
	  logs="$$logs $(BUILD)/meson-logs/testlog.json:$$?"; \
	else logs="$$logs --failed=build_$(BUILD)"; fi; \
	if $(NINJA) -C $(BUILD_SAN); then \
	  $(SAN_ENV) $(MESON) test -C $(BUILD_SAN) --suite unit --print-errorlogs; \
	  logs="$$logs $(BUILD_SAN)/meson-logs/testlog.json:$$?"; \
	else logs="$$logs --failed=build_$(BUILD_SAN)"; fi; \
	python3 scripts/test-summary.py $$logs && exit 0; \
	$(FAIL_QUIETLY)

# On failure the summary must stay the last line, but make would print
# "make: *** [Makefile:NN: test] Error 1" after it. A make killed by SIGPIPE
# dies without a word (and bash reports no SIGPIPE death either) yet still
# exits non-zero (141), so the recipe ends its make that way. Under
# --output-sync make holds the output until the recipe ends, so there it
# fails the ordinary way.
FAIL_QUIETLY = case "$(MAKEFLAGS)" in *O*) exit 1 ;; esac; \
	case "$$(cat /proc/$$PPID/comm 2>/dev/null)" in make | gmake) kill -PIPE $$PPID ;; esac; \
	exit 1

unit-test: build
	$(MESON) test -C $(BUILD) --suite unit --print-errorlogs

san-test: build-san
	$(SAN_ENV) $(MESON) test -C $(BUILD_SAN) --suite unit --print-errorlogs

gpu-test: build
	$(MESON) test -C $(BUILD) --suite gpu --print-errorlogs

install: build
	$(MESON) install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
