#!/usr/bin/env bash
# Build the Vigie edge box image: Debian 12 by debootstrap, the edge_box Ansible role applied
# inside it through Ansible's chroot connection, packed as a zstd-compressed root filesystem
# with its sha256. The image holds no per-box secret: no camera config, no key, no credential,
# no SSH host key, an empty machine-id (each box makes its own at first boot).
#
#   make image                       # uses images/fleet.example.yml
#   FLEET_VARS=fleet.yml make image  # your hub's address, DNS, NTP
#
# Needs root, debootstrap, zstd, and ansible-playbook on PATH (the venv's, via make).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
out="${IMAGE_OUT:-$here/out}"
work="${IMAGE_WORK:-$here/work}"
cache="${VIGIE_CACHE:-$HOME/.cache/vigie}/image"
fleet="${FLEET_VARS:-$here/fleet.example.yml}"
suite=bookworm
name="vigie-edge-$suite-amd64"
mirror="${DEBIAN_MIRROR:-$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
# The role's packages plus what a bootable box needs.
packages="systemd-sysv,linux-image-amd64,grub-efi-amd64,openssh-server,chrony,sudo,zstd,dosfstools"
packages="$packages,e2fsprogs,iproute2,python3,python3-venv,python3-packaging,nftables,ca-certificates"

[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (debootstrap and chroot need it)" >&2; exit 1; }
for tool in debootstrap zstd ansible-playbook; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (make provision-tools; make venv)" >&2; exit 1; }
done
wheel="$(ls "$repo"/dist/vigie-*.whl 2>/dev/null | head -1)"
[ -n "$wheel" ] || { echo "build.sh: no wheel in dist/ (run make wheel)" >&2; exit 1; }
models="${VIGIE_MODELS:-$HOME/.cache/vigie/models}"

rootfs="$work/rootfs"
mounts=()
cleanup() {
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# 1. Debian 12, from a cached debootstrap tarball (made once).
key="$(echo "$suite $packages" | sha256sum | cut -c1-12)"
tarball="$cache/debian12-image-$key.tar"
mkdir -p "$cache" "$out" "$work"
if [ ! -f "$tarball" ]; then
  echo "== debootstrap $suite from $mirror (cached afterwards in $tarball)"
  rm -rf "$work/bootstrap"
  debootstrap --variant=minbase --include="$packages" "$suite" "$work/bootstrap" "$mirror"
  tar -C "$work/bootstrap" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$work/bootstrap"
fi
if grep -q " $rootfs" /proc/self/mounts; then echo "build.sh: $rootfs has mounts; not deleting" >&2; exit 1; fi
rm -rf "$rootfs" && mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner -xpf "$tarball"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

# 2. The edge_box role through the chroot connection (pip's cache and the host's CA bundle
#    bind-mounted for the build only; neither ends up in the image).
mount -t proc proc "$rootfs/proc"; mounts+=("$rootfs/proc")
mkdir -p "$cache/pip" "$rootfs/var/cache/vigie-pip" "$rootfs/run/build-certs"
mount --bind "$cache/pip" "$rootfs/var/cache/vigie-pip"; mounts+=("$rootfs/var/cache/vigie-pip")
mount --bind /etc/ssl/certs "$rootfs/run/build-certs"; mounts+=("$rootfs/run/build-certs")
bundle=/run/build-certs/ca-certificates.crt
cat > "$work/inventory.yml" <<INV
all:
  hosts:
    image:
      ansible_connection: community.general.chroot
      ansible_host: $rootfs
      ansible_python_interpreter: /usr/bin/python3
      edge_box_offline: true
      edge_box_cameras: []
      edge_box_wheel: $wheel
      edge_box_model_store: $models
      edge_box_pip_environment: {PIP_CERT: $bundle, REQUESTS_CA_BUNDLE: $bundle, SSL_CERT_FILE: $bundle}
INV
echo "== edge_box role into $rootfs"
ANSIBLE_CONFIG="$repo/ansible/ansible.cfg" ANSIBLE_ROLES_PATH="$repo/ansible/roles" \
  ansible-playbook -i "$work/inventory.yml" -e "@$fleet" "$here/image.yml"
cleanup; mounts=()

# 3. Generic-box settings: DHCP, SSH host keys made at first boot, nothing box-specific.
install -d "$rootfs/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' > "$rootfs/etc/systemd/network/50-dhcp.network"
chroot "$rootfs" systemctl enable systemd-networkd.service ssh.service chrony.service >/dev/null
cat > "$rootfs/etc/systemd/system/vigie-ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Make this box's SSH host keys (first boot)
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
chroot "$rootfs" systemctl enable vigie-ssh-hostkeys.service >/dev/null
if [ -n "${AUTHORIZED_KEYS:-}" ]; then  # the fleet admins' public keys (not a secret)
  install -d -m 700 "$rootfs/root/.ssh" && install -m 600 "$AUTHORIZED_KEYS" "$rootfs/root/.ssh/authorized_keys"
fi
echo vigie-box > "$rootfs/etc/hostname"
rm -f "$rootfs"/etc/ssh/ssh_host_* "$rootfs/etc/resolv.conf"
: > "$rootfs/etc/machine-id"; rm -f "$rootfs/var/lib/dbus/machine-id"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs/var/cache/vigie-pip"/* "$rootfs/var/lib/apt/lists"/* "$rootfs/tmp"/* "$rootfs/run/build-certs"

# 4. No per-box secret may be in the image.
leaks="$(cd "$rootfs" && ls -d etc/vigie/*.toml etc/vigie/tls var/lib/vigie/*/keys etc/ssh/ssh_host_* 2>/dev/null || true)"
[ -z "$leaks" ] || { echo "build.sh: per-box material in the image: $leaks" >&2; exit 1; }

# 5. File list for flash.yml's check, then pack with the sha256.
install -d "$rootfs/etc/vigie-image"
(cd "$rootfs" && find usr opt/vigie -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/files.sha256"
mv "$work/files.sha256" "$rootfs/etc/vigie-image/files.sha256"
echo "== packing $out/$name.tar.zst"
tar -C "$rootfs" --numeric-owner --xattrs -cf - . | zstd -q -T0 -10 -o "$out/$name.tar.zst" -f
(cd "$out" && sha256sum "$name.tar.zst" > "$name.tar.zst.sha256")
du -h "$out/$name.tar.zst"; cat "$out/$name.tar.zst.sha256"
[ -n "${KEEP_ROOTFS:-}" ] || rm -rf "$rootfs"  # 1.4 GB; KEEP_ROOTFS=1 keeps it for inspection
