#!/usr/bin/env bash
# denvme set-up: everything a fresh Debian 12 machine with Node/npm needs, then an action.
#
#   bash tasks/setup.sh          install only: deno (npm), QEMU (apt), build libnvmeshim
#   bash tasks/setup.sh demo     ... then run the hello-world demo on the embedded device
#   bash tasks/setup.sh test     ... then run the C unit tests (ASan/UBSan), the checks, and the tests
#                                (the embedded device, then VFIO in a guest VM: deno task test:vfio,
#                                then NVMe/TCP against the kernel's target in a guest: deno task test:tcp)
#   bash tasks/setup.sh bench    ... then run the benchmarks (JSON lines)
#
# A second run reuses what is installed and starts in seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DENO_VERSION=2.9.6
TOOLS="$ROOT/.denvme"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  # apt_install <what for> <package...>
  local why=$1; shift
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      SUDO=sudo
    else
      die "$why is missing and installing it needs root: run this as root, or first: sudo apt-get install -y $*"
    fi
  else
    SUDO=
  fi
  command -v apt-get >/dev/null || die "$why is missing and apt-get is not available: install $* by hand"
  if [ $APT_UPDATED = 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing $* ($why)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. build tools
command -v make >/dev/null || apt_install "make" make
command -v cc >/dev/null || apt_install "a C compiler" gcc libc6-dev

# 2. QEMU (the embedded device)
if ! command -v qemu-system-x86_64 >/dev/null && [ -z "${DENVME_QEMU:-}" ]; then
  apt_install "QEMU (qemu-system-x86_64, the embedded NVMe device)" qemu-system-x86
fi

# 3. deno from npm, kept in .denvme/ (reused when present)
DENO="$TOOLS/node_modules/.bin/deno"
if [ ! -x "$DENO" ] || ! "$DENO" --version 2>/dev/null | grep -q "^deno $DENO_VERSION"; then
  command -v npm >/dev/null || die "npm is needed to install deno: install Node.js and npm first"
  say "installing deno $DENO_VERSION from npm into .denvme/"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >/dev/null
  [ -x "$DENO" ] || die "npm did not install the deno binary at $DENO"
fi
export PATH="$TOOLS/node_modules/.bin:$PATH"
# deno is not on the caller's PATH: an env file to source, and the line to add
printf 'export PATH="%s:$PATH"\n' "$TOOLS/node_modules/.bin" > "$TOOLS/env"

# 4. libnvmeshim
say "building libnvmeshim"
make -s -C libnvmeshim

action=${1:-}
[ $# -gt 0 ] && shift
case "$action" in
  "") say "ready: $(deno --version | head -1), $(qemu-system-x86_64 --version 2>/dev/null | head -1 || echo "QEMU at $DENVME_QEMU")"
      say "deno is in $TOOLS/node_modules/.bin: put it on your PATH with"
      say "  source $TOOLS/env      (or: export PATH=\"$TOOLS/node_modules/.bin:\$PATH\")"
      say "next: deno task demo | deno task test | deno task bench | deno task init <dir>" ;;
  demo) exec deno task demo "$@" ;;
  test)
    # the report tests render the HTML reports in headless Chromium and check the screenshots
    if ! command -v chromium >/dev/null && [ -z "${DENVME_CHROMIUM:-}" ]; then
      apt_install "Chromium (headless: the report tests screenshot the HTML reports)" chromium
    fi
    say "C unit tests (AddressSanitizer + UBSan)"
    make -s -C libnvmeshim check
    say "deno fmt --check, deno lint, deno check"
    deno task check
    say "driver tests against the embedded device (console output: test-output.txt; harness log: test-results/test.log)"
    set -o pipefail
    deno task test "$@" 2>&1 | tee test-output.txt
    say "NVMe conformance suite on the embedded device (summary by area; log: test-results/conformance.log)"
    deno task conformance --quiet
    say "the real-hardware path: VFIO in a Linux guest under QEMU (full log: vmtest.log)"
    deno task test:vfio 2>&1 | tee vmtest.log
    say "NVMe over TCP: the kernel's nvmet-tcp target in a Linux guest under QEMU (full log: tcptest.log)"
    deno task test:tcp 2>&1 | tee tcptest.log
    ;;
  bench) exec deno task bench "$@" ;;
  *) die "unknown action '$action': use demo, test or bench (or nothing to only install)" ;;
esac
