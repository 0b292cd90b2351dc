#!/usr/bin/env bash
# Makes the debian:bookworm-slim image locally when it is absent, since nothing can be pulled.
#
# debootstrap's minbase variant from the Debian mirror this machine uses, then adjusted to look
# like the real image where it matters to our Dockerfiles: apt sources in deb822 format in
# /etc/apt/sources.list.d/debian.sources (bookworm, bookworm-updates, bookworm-security), the
# "slim" dpkg excludes and apt settings, no package lists or caches, CMD ["bash"].
#
# Idempotent: does nothing if the image exists (FORCE=1 rebuilds it).
# Environment:
#   BASE_IMAGE   tag to create (default debian:bookworm-slim)
#   SUITE        Debian suite (default bookworm)
#   FORCE        1 to rebuild even if the image exists
set -euo pipefail

readonly BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
readonly SUITE=${SUITE:-bookworm}
readonly FORCE=${FORCE:-0}
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf '[make-base-image] %s\n' "$*"; }
die() { printf '[make-base-image] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap needs it)"
docker info >/dev/null 2>&1 || die "docker does not answer; run scripts/install-docker.sh first"

if [[ $FORCE != 1 ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "$BASE_IMAGE already present ($(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" | cut -c8-19)); nothing to do"
  exit 0
fi

for tool in debootstrap:debootstrap gpgv:gpgv "$KEYRING":debian-archive-keyring; do
  path=${tool%%:*} pkg=${tool#*:}
  if ! command -v "$path" >/dev/null 2>&1 && [[ ! -e $path ]]; then
    say "installing $pkg"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$pkg" </dev/null ||
      { apt-get update -q </dev/null && apt-get install -y -q --no-install-recommends "$pkg" </dev/null; }
  fi
done

# The mirrors this machine uses: deb822 sources first, then one-line sources.list; else Debian's.
# Prints "<archive URI> <security URI>".
host_mirrors() {
  local archive="" security=""
  local files=(/etc/apt/sources.list.d/*.sources)
  if [[ -e ${files[0]} ]]; then
    # Walk each stanza; remember the URIs of the one carrying SUITE and of the one carrying
    # SUITE-security.
    read -r archive security < <(awk -v suite="$SUITE" '
      function flush() {
        if (uris != "") {
          n = split(suites, s, " ")
          for (i = 1; i <= n; i++) {
            if (s[i] == suite && archive == "") archive = uris
            if (s[i] == suite "-security" && security == "") security = uris
          }
        }
        uris = ""; suites = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { $1 = ""; suites = $0 }
      END { flush(); print (archive == "" ? "-" : archive), (security == "" ? "-" : security) }
    ' "${files[@]}")
  fi
  if [[ -z $archive || $archive == - ]] && [[ -r /etc/apt/sources.list ]]; then
    archive=$(awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list)
  fi
  if [[ -z $security || $security == - ]] && [[ -r /etc/apt/sources.list ]]; then
    security=$(awk -v suite="$SUITE-security" '$1 == "deb" && $3 ~ "^" suite { print $2; exit }' /etc/apt/sources.list)
  fi
  [[ -n $archive && $archive != - ]] || archive=http://deb.debian.org/debian
  [[ -n $security && $security != - ]] || security=http://deb.debian.org/debian-security
  printf '%s %s\n' "$archive" "$security"
}

# A forced rebuild replaces this one; it is removed afterwards if nothing uses it.
old_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)

read -r MIRROR SECURITY_MIRROR < <(host_mirrors)
say "building $BASE_IMAGE from $MIRROR ($SUITE), security from $SECURITY_MIRROR"

ROOTFS=$(mktemp -d /var/tmp/make-base-image.XXXXXX)
cleanup() {
  # debootstrap mounts proc/sys inside the target; never rm -rf through a live mount.
  local mnt
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v root="$ROOTFS" 'index($2, root "/") == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

start=$SECONDS
say "debootstrap --variant=minbase $SUITE (log: $ROOTFS.log)"
if ! debootstrap --variant=minbase --keyring="$KEYRING" "$SUITE" "$ROOTFS" "$MIRROR" \
  >"$ROOTFS.log" 2>&1; then
  tail -n 30 "$ROOTFS.log" >&2
  die "debootstrap failed (full log: $ROOTFS.log)"
fi
rm -f "$ROOTFS.log"
say "debootstrap done in $((SECONDS - start))s"

# Apt sources as the real image has them: deb822, with updates and security.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
EOF

# What makes the image "slim": no docs, man pages or translations from later installs, and
# apt removes downloaded packages after installing them.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Keep images small: no documentation, manuals or translations (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
// Remove downloaded .deb files after each install: images keep no package cache.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
// Only the untranslated package descriptions.
Acquire::Languages "none";
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes" <<'EOF'
// Keep package lists compressed on disk.
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
EOF

# Apply the same excludes to what debootstrap already installed.
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOTFS"/usr/share/{man,groff,info,lintian,linda,locale}/*

# Nothing machine-specific or cached: Docker provides hostname, hosts and resolv.conf.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
mkdir -p "$ROOTFS/var/lib/apt/lists/partial" "$ROOTFS/var/cache/apt/archives/partial"
: >"$ROOTFS/etc/machine-id"
: >"$ROOTFS/etc/resolv.conf"
printf 'localhost\n' >"$ROOTFS/etc/hostname"

say "importing into docker as $BASE_IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE from $MIRROR (scripts/make-base-image.sh)" \
    - "$BASE_IMAGE" >/dev/null
say "$BASE_IMAGE: $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%.1f MB", $1 / 1e6 }'), built in $((SECONDS - start))s"
if [[ -n $old_id ]] && [[ $old_id != "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 && say "removed the previous $BASE_IMAGE (${old_id:7:12})" || true
fi
