# Slipway: `make run` sets up what is missing, builds, and starts the desktop
# app; `make test` sets up what the tests need and runs every suite.
# Everything it installs for the project stays inside this clone (target/,
# ui/node_modules, tests/e2e/node_modules, .venv); system packages come from
# apt, only where apt exists and only what is missing.

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(CURDIR)/target
TOOLS := $(TARGET_DIR)/tools
TAURI_DRIVER := $(TOOLS)/bin/tauri-driver
VENV := $(CURDIR)/.venv

# Tauri 2's Linux build and run dependencies, and python3 for the demo's
# web service (`slipway demo`).
APT_APP := libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev \
           libxdo-dev libssl-dev pkg-config build-essential file dbus-x11 python3
# What the test suites add: a virtual display, the WebKit and Chromium drivers,
# the Secret Service keychain, Python for the moto STS server, and Python's
# GTK bindings for the desktop memory baseline (a bare WebKitGTK window), and a
# notification server (dunst) whose notifications the desktop test clicks.
APT_TEST := xvfb webkit2gtk-driver gnome-keyring libsecret-tools chromium chromium-driver imagemagick \
            python3-venv python3-gi gir1.2-webkit2-4.1 dunst

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test build ui ui-deps e2e-deps apt-app apt-test tauri-driver venv bindings \
        test-rust test-ui test-browser test-desktop screenshot fmt lint clean

run: apt-app ui build
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "error: no display (DISPLAY is unset). Run under a desktop session, or: Xvfb :99 & DISPLAY=:99 make run" >&2; exit 1; fi
	@if [ -z "$$DBUS_SESSION_BUS_ADDRESS" ] && command -v dbus-run-session >/dev/null; then \
	  exec dbus-run-session -- $(TARGET_DIR)/debug/slipway-desktop; \
	else exec $(TARGET_DIR)/debug/slipway-desktop; fi

test: apt-app apt-test ui e2e-deps tauri-driver venv
	@bash tests/run-suites.sh

build: ui
	$(CARGO) build --workspace

# ---- set-up: each step does nothing when its result is already there ----

define apt_install
	@if command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "apt: installing $$missing"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "apt-get not found: install the prerequisites listed in README.md yourself"; fi
endef

apt-app:
	$(call apt_install,$(APT_APP))

apt-test:
	$(call apt_install,$(APT_TEST))

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund
	@touch $@

ui-deps: ui/node_modules/.package-lock.json
e2e-deps: tests/e2e/node_modules/.package-lock.json

ui: ui-deps
	cd ui && npm run --silent build

tauri-driver: $(TAURI_DRIVER)
$(TAURI_DRIVER):
	$(CARGO) install tauri-driver --locked --root $(TOOLS)

venv: $(VENV)/bin/aws
$(VENV)/bin/aws:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]' awscli

# ---- one suite alone (after `make test` has set things up once) ----

test-rust:
	@bash tests/run-suites.sh rust
test-ui: ui-deps
	@bash tests/run-suites.sh ui
test-browser: ui e2e-deps
	@bash tests/run-suites.sh browser
test-desktop: ui e2e-deps tauri-driver
	@bash tests/run-suites.sh desktop

# ---- chores ----

# Regenerates ui/src/lib/bindings.ts from the Rust types.
bindings:
	UPDATE_BINDINGS=1 $(CARGO) test -p slipway-core --lib api::bindings

# Copies the desktop test's screenshot to the one the README shows.
screenshot:
	cp tests/.out/desktop.png docs/screenshot.png

fmt:
	$(CARGO) fmt --all

lint: ui-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd ui && npm run --silent check

clean:
	$(CARGO) clean
	rm -rf ui/dist tests/.out
