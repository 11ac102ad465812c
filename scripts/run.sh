#!/usr/bin/env bash
# The main job: install dependencies, build, make a demo folder, and start dstream serving it.
# Then, in another terminal:   build/client/dsclient pdtp://127.0.0.1/sample.bin
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh dstream dsclient
mkdir -p demo
[ -f demo/hello.txt ] || echo "Hello from DistribuStream." > demo/hello.txt
[ -f demo/sample.bin ] || head -c 20000000 /dev/urandom > demo/sample.bin
echo "run: serving demo/ — try: build/client/dsclient pdtp://127.0.0.1/sample.bin  (status: http://127.0.0.1:6087/status/)"
exec build/server/dstream --conf conf/bigchunk.yml "$@"
