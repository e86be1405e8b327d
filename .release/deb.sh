#!/usr/bin/env bash
# Builds the Debian package of one architecture from a release binary that
# build.sh made: .release/deb.sh OUT ARCH VERSION REVISION TIME.
# Writes OUT/zdu_VERSION_ARCH.deb, reproducibly: every file's mtime is
# SOURCE_DATE_EPOCH, owners root:root, modes fixed, compressed files made
# without names or times, the archive's members in a fixed order.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 arch=$2 v=$3 rev=$4 when=$5
export LC_ALL=C TZ=UTC
umask 022
: "${SOURCE_DATE_EPOCH:?}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin="$out/linux-$arch/zdu"
# The completion scripts and the manual page come from a zdu that runs
# here (the host's build), in an empty environment: nothing of this
# machine's ends up in them.
host="$out/linux-$(go env GOHOSTARCH)/zdu"
if [ ! -x "$host" ]; then
  host="$work/zdu"
  CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-X main.version=$v -X main.revision=$rev -X main.revisionTime=$when" -o "$host" ./cmd/zdu
fi
hostzdu() { env -i PATH=/usr/bin:/bin HOME=/nonexistent SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$host" "$@"; }

root="$work/root"
share="$root/usr/share"
install -d "$root/DEBIAN" "$root/usr/bin" "$share/zdu/plans/lib" "$share/doc/zdu" "$share/man/man1" \
  "$share/bash-completion/completions" "$share/zsh/vendor-completions" "$share/fish/vendor_completions.d"
install -m 0755 "$bin" "$root/usr/bin/zdu"
install -m 0644 plans/*.yaml "$share/zdu/plans/"
install -m 0644 plans/lib/*.yaml "$share/zdu/plans/lib/"
hostzdu completion bash > "$share/bash-completion/completions/zdu"
hostzdu completion zsh > "$share/zsh/vendor-completions/_zdu"
hostzdu completion fish > "$share/fish/vendor_completions.d/zdu.fish"
hostzdu __man | gzip -9n > "$share/man/man1/zdu.1.gz"
# The operator's reference, as in the repository (docs/img stays there).
install -m 0644 README.md docs/*.md "$share/doc/zdu/"
gzip -9n "$share/doc/zdu/"*.md
# changelog.Debian: a snapshot gets an entry of its own above the
# released ones.
{
  if [ "$(sed -n '1s/^zdu (\([^)]*\)).*/\1/p' .release/debian/changelog)" != "$v" ]; then
    printf 'zdu (%s) unstable; urgency=medium\n\n  * Snapshot of revision %s (%s).\n\n -- %s  %s\n\n' \
      "$v" "${rev:-unknown}" "$when" "zdu developers <maintainers@zdu.invalid>" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  fi
  cat .release/debian/changelog
} | gzip -9n > "$share/doc/zdu/changelog.Debian.gz"
.release/copyright.sh "$bin" > "$share/doc/zdu/copyright"
chmod 0644 "$share"/bash-completion/completions/zdu "$share"/zsh/vendor-completions/_zdu \
  "$share"/fish/vendor_completions.d/zdu.fish "$share"/man/man1/zdu.1.gz "$share"/doc/zdu/*

size=$(find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%s\n' | awk '{s += int(($1 + 1023) / 1024)} END {print s}')
sed -e "s/@VERSION@/$v/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" .release/debian/control > "$root/DEBIAN/control"
(cd "$root" && find usr -type f | sort | xargs md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb="$out/zdu_${v}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
touch -d "@$SOURCE_DATE_EPOCH" "$deb"
echo "package: $deb"
