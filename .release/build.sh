#!/usr/bin/env bash
# The release build: static zdu binaries for linux/amd64 and linux/arm64
# (CGO off, -trimpath, no build id, version and VCS revision stamped with
# -ldflags -X) and a Debian package of each, reproducible: two builds of the
# same commit with the same Go toolchain give the same bytes.
#
#   .release/build.sh [--out DIR] [--arch "amd64 arm64"] [--no-deb]
#   .release/build.sh --check [--fresh-cache] [--arch ...] [--no-deb]
#
# --out: where the files go (default dist/): DIR/linux-ARCH/zdu,
# DIR/zdu_VERSION_ARCH.deb and DIR/SHA256SUMS.
# --check: build twice, into two directories, and compare every file byte
# for byte (exit 1 naming what differs); with --fresh-cache the second
# build compiles everything again in an empty Go build cache (minutes).
#
# The version: ZDU_VERSION when set; else the tag vX.Y.Z on HEAD (X.Y.Z);
# else a snapshot of the version on top of .release/debian/changelog:
# 0.1.0~gitYYYYMMDDHHMMSS.REV12 (+dirty when the tree has uncommitted
# changes). Times (the commit's date, the files' mtimes) come from
# SOURCE_DATE_EPOCH, by default HEAD's commit time. docs/install.md says more.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C TZ=UTC
umask 022

out=dist
arches="amd64 arm64"
deb=1
check=0
fresh=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --arch) arches=$2; shift 2 ;;
    --no-deb) deb=0; shift ;;
    --check) check=1; shift ;;
    --fresh-cache) fresh=1; shift ;;
    -h|--help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$check" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  opts=(--arch "$arches")
  [ "$deb" = 1 ] || opts+=(--no-deb)
  echo "build 1 of 2"
  "$0" "${opts[@]}" --out "$tmp/one"
  if [ "$fresh" = 1 ]; then
    echo "build 2 of 2 (another output directory, an empty Go build cache)"
    GOCACHE="$tmp/gocache" "$0" "${opts[@]}" --out "$tmp/other-dir/two"
  else
    echo "build 2 of 2 (another output directory)"
    "$0" "${opts[@]}" --out "$tmp/other-dir/two"
  fi
  differ=0
  (cd "$tmp/one" && find . -type f | sort) > "$tmp/files.one"
  (cd "$tmp/other-dir/two" && find . -type f | sort) > "$tmp/files.two"
  if ! cmp -s "$tmp/files.one" "$tmp/files.two"; then
    echo "the two builds made different files:" >&2
    diff "$tmp/files.one" "$tmp/files.two" >&2 || true
    differ=1
  fi
  while read -r f; do
    if cmp -s "$tmp/one/$f" "$tmp/other-dir/two/$f"; then
      echo "identical: ${f#./} $(sha256sum < "$tmp/one/$f" | cut -c1-64)"
    else
      echo "DIFFERENT: ${f#./}" >&2
      differ=1
    fi
  done < "$tmp/files.one"
  [ "$differ" = 0 ] && echo "reproducible: both builds are byte-identical"
  exit "$differ"
fi

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "build.sh: no go on PATH" >&2; exit 1; }

# What is built, and when.
rev="${ZDU_REVISION:-}" modified=false
if [ -z "$rev" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  rev=$(git rev-parse HEAD)
  [ -z "$(git status --porcelain)" ] || modified=true
  : "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct)}"
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  echo "build.sh: not a git checkout: set SOURCE_DATE_EPOCH (and ZDU_VERSION, ZDU_REVISION)" >&2
  exit 1
fi
export SOURCE_DATE_EPOCH
when=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
base=$(sed -n '1s/^zdu (\([^)]*\)).*/\1/p' .release/debian/changelog)
v="${ZDU_VERSION:-}"
if [ -z "$v" ] && [ -n "$rev" ]; then
  tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)
  if [ -n "$tag" ] && [ "$modified" = false ]; then
    v=${tag#v}
  else
    v="$base~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).${rev:0:12}"
    [ "$modified" = false ] || v="$v+dirty"
  fi
fi
[ -n "$v" ] || { echo "build.sh: no version: set ZDU_VERSION" >&2; exit 1; }
case $v in [0-9]*) ;; *) echo "build.sh: version $v must start with a digit (a Debian version)" >&2; exit 1 ;; esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "zdu $v, revision ${rev:-none} ($when), into $out"

ldflags="-s -w -buildid= -X main.version=$v -X main.revision=$rev -X main.revisionTime=$when -X main.revisionModified=$modified"
for arch in $arches; do
  mkdir -p "$out/linux-$arch"
  # Everything that changes the bytes is set here, not taken from the
  # caller's environment.
  env CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOAMD64=v1 GOARM64=v8.0 GOFLAGS=-mod=readonly GOEXPERIMENT= \
    go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out/linux-$arch/zdu" ./cmd/zdu
  touch -d "@$SOURCE_DATE_EPOCH" "$out/linux-$arch/zdu"
done

if [ "$deb" = 1 ]; then
  for arch in $arches; do
    .release/deb.sh "$out" "$arch" "$v" "$rev" "$when"
  done
fi
(cd "$out" && find . -type f ! -name SHA256SUMS | sort | sed 's|^\./||' | xargs sha256sum > SHA256SUMS)
cat "$out/SHA256SUMS"
