#!/usr/bin/env bash
# Set-up for `make demo`, `make test` and `make app`: system libraries, a .venv, CityDesk.
#   scripts/setup.sh runtime   # CityDesk and what the offscreen renderers need
#   scripts/setup.sh dev       # + test tools, and the X11 libraries and Xvfb for the window tests
#   scripts/setup.sh gui       # + the X11 libraries a real window needs
# Installs missing Debian/Ubuntu packages with apt-get when run as root; otherwise prints the
# exact command to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-runtime}

# Libraries Qt needs to render offscreen, and fonts (without them every glyph is a box).
pkgs=(libgl1 libegl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 fonts-dejavu-core)
if [ "$mode" = gui ] || [ "$mode" = dev ]; then
  pkgs+=(libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-render0
         libxcb-shape0 libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0)
fi
if [ "$mode" = dev ]; then
  pkgs+=(poppler-utils)  # pdftotext, pdffonts, pdftoppm: the report and meeting-map tests
  pkgs+=(xvfb xauth)  # a few tests need a real X server (drag and drop does not exist offscreen)
  pkgs+=(chromium libatomic1)  # the web map browser test: Playwright drives Debian's Chromium (its node needs libatomic)
  pkgs+=(postgresql postgresql-postgis)  # the PostGIS tests start a throw-away server (tests/postgis)
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "CityDesk needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1 || echo missing)." >&2
  echo "Install it (Debian/Ubuntu: apt-get install python3 python3-venv) or run: make PYTHON=python3.12 ..." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  pkgs+=(python3-venv)
fi

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing system libraries: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "CityDesk needs these system packages: ${missing[*]}" >&2
      echo "Install them as root, then run make again:" >&2
      echo "  sudo sh -c '$cmd'" >&2
      exit 1
    fi
  fi
else
  echo "Not a Debian/Ubuntu system: make sure the Qt 6 runtime libraries (OpenGL/EGL, fontconfig, xkbcommon) and a font are installed." >&2
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
extras=""
[ "$mode" = dev ] && extras="[dev,cluster]"
stamp=".venv/.citydesk-$mode"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "Installing CityDesk$extras into .venv (versions pinned by constraints.txt)"
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check -c constraints.txt -e ".$extras"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "Installing CityDesk failed; the whole pip output is in $log" >&2
    exit 1
  fi
  touch "$stamp"
fi
