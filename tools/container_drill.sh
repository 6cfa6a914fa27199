#!/usr/bin/env bash
# Build the facetransfer image from a Debian base made here, without a registry, then run a `tiny`
# swap of two GRID clips inside it with a work folder mounted at /work, and verify the output.
#
#   sudo tools/container_drill.sh [DRILL_DIR]      (default /tmp/facetransfer-container-drill)
#
# Needs root, debootstrap, buildah and podman (Debian: apt-get install debootstrap buildah podman).
# Steps: 1. debootstrap a minimal Debian bookworm with Python 3.11 (kept in DRILL_DIR/rootfs and
# reused), 2. import it as localhost/facetransfer-base:bookworm, 3. build the Dockerfile on it
# (buildah, chroot isolation) as localhost/facetransfer:cpu, 4. run the swap: `podman run`, or where
# the machine cannot start an OCI container (no user namespaces or rlimits in a sandbox),
# `buildah run --isolation chroot` on a container of the same image, 5. `facetransfer verify` the
# result inside the container and, when the project's .venv is there, outside it too.
# A pip mirror configured on the host (find-links, extra index, constraints: local folders or file://
# URLs; the certificate authority pip trusts) is mounted into the build and used; otherwise the
# build uses PyPI.
# Environment: FACETRANSFER_TEST_DATA (the shared media, default ../shared/data),
# DRILL_ITERATIONS (training steps, default 30), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DRILL="${1:-/tmp/facetransfer-container-drill}"
DATA="${FACETRANSFER_TEST_DATA:-$ROOT/../shared/data}"
ITERATIONS="${DRILL_ITERATIONS:-30}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_IMAGE=localhost/facetransfer-base:bookworm
IMAGE=localhost/facetransfer:cpu
say() { printf '\n== %s\n' "$*" >&2; }

for tool in debootstrap buildah podman; do
    command -v "$tool" >/dev/null || { echo "container_drill: $tool not found; apt-get install $tool" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "container_drill: debootstrap and buildah need root here; run with sudo" >&2; exit 2; }
for clip in bbaf2n lbbc2a; do
    [ -f "$DATA/video/grid/$clip.mpg" ] || { echo "container_drill: $DATA/video/grid/$clip.mpg missing; set FACETRANSFER_TEST_DATA" >&2; exit 2; }
done
mkdir -p "$DRILL"

say "1. Debian base (debootstrap, minbase + Python 3.11)"
if [ ! -x "$DRILL/rootfs/usr/bin/python3" ]; then
    rm -rf "$DRILL/rootfs.partial"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$DRILL/rootfs.partial" "$MIRROR" >"$DRILL/debootstrap.log"
    rm -rf "$DRILL/rootfs.partial/var/cache/apt/archives/"*.deb
    mv "$DRILL/rootfs.partial" "$DRILL/rootfs"
fi
if ! podman image exists "$BASE_IMAGE"; then  # a new import would defeat the build's layer cache
    tar -C "$DRILL/rootfs" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
fi
podman image inspect --format '{{.Id}} {{.Size}} bytes' "$BASE_IMAGE" >&2

say "2. Image: buildah bud --isolation chroot on $BASE_IMAGE"
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
volumes=()
mount_location() {  # a local folder or file:// URL of the pip configuration: mounted read-only
    local location="${1#file://}"
    location="${location%/}"
    if [ "$(basename "$location")" = simple ]; then
        location="$(dirname "$location")"  # an index's pages link to files beside simple/
    fi
    if [ -e "$location" ]; then
        volumes+=(--volume "$location:$location:ro")
    fi
}
pip_setting() { "${PYTHON:-python3}" -m pip config get "global.$1" 2>/dev/null || true; }
find_links="${PIP_FIND_LINKS:-$(pip_setting find-links)}"
extra_index="${PIP_EXTRA_INDEX_URL:-$(pip_setting extra-index-url)}"
constraint="${PIP_CONSTRAINT:-$(pip_setting constraint)}"
if [ -n "$find_links" ]; then
    build_args+=(--build-arg "PIP_FIND_LINKS=$find_links")
    for location in $find_links; do mount_location "$location"; done
fi
if [ -n "$extra_index" ]; then
    build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra_index")
    for location in $extra_index; do mount_location "$location"; done
fi
if [ -n "$constraint" ]; then
    build_args+=(--build-arg "PIP_CONSTRAINT=$constraint")
    mount_location "$constraint"
fi
cert="${PIP_CERT:-$(pip_setting cert)}"
if [ -n "$cert" ] && [ -f "$cert" ]; then  # a certificate authority of the host's proxy
    build_args+=(--build-arg "PIP_CERT=/opt/host-pip/ca.crt")
    volumes+=(--volume "$cert:/opt/host-pip/ca.crt:ro")
fi
started=$(date +%s)
buildah bud --isolation chroot --format docker --layers "${build_args[@]}" "${volumes[@]}" -t "$IMAGE" "$ROOT" \
    >"$DRILL/build.log" 2>&1 || { tail -30 "$DRILL/build.log" >&2; echo "container_drill: the build failed (log: $DRILL/build.log)" >&2; exit 1; }
echo "built $IMAGE in $(( $(date +%s) - started )) s: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes" >&2

say "3. Work folder mounted at /work"
WORK="$DRILL/work"
rm -rf "$WORK"
mkdir -p "$WORK/media"
cp "$DATA/video/grid/bbaf2n.mpg" "$DATA/video/grid/lbbc2a.mpg" "$WORK/media/"
chown -R 1000:1000 "$WORK"  # the image's user

run_args=(swap /work/media/bbaf2n.mpg /work/media/lbbc2a.mpg -o /work/out/result.mp4
    --preset tiny --iterations "$ITERATIONS" --crop-size 96)
say "4. facetransfer ${run_args[*]}"
started=$(date +%s)
if podman run --rm --network none -v "$WORK:/work" "$IMAGE" "${run_args[@]}" 2>"$DRILL/podman-run.err"; then
    runner=podman
    podman run --rm --network none -v "$WORK:/work" "$IMAGE" verify /work/out/result.mp4
else
    echo "podman run cannot start a container here: $(grep -m1 -i error "$DRILL/podman-run.err" || tail -1 "$DRILL/podman-run.err")" >&2
    echo "running the same image with buildah run --isolation chroot instead" >&2
    runner="buildah run --isolation chroot"
    container=$(buildah from --quiet "$IMAGE")
    trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
    buildah run --isolation chroot --user 1000:1000 --volume "$WORK:/work" "$container" -- \
        /usr/local/bin/facetransfer-entrypoint "${run_args[@]}"
    buildah run --isolation chroot --user 1000:1000 --volume "$WORK:/work" "$container" -- \
        /usr/local/bin/facetransfer-entrypoint verify /work/out/result.mp4
fi
echo "swap in the container ($runner): $(( $(date +%s) - started )) s" >&2

say "5. The result, seen from the host"
ls -l "$WORK/out" >&2
[ "$(stat -c %u "$WORK/out/result.mp4")" = 1000 ] || { echo "container_drill: the output is not owned by uid 1000" >&2; exit 1; }
if [ -x "$ROOT/.venv/bin/facetransfer" ]; then
    "$ROOT/.venv/bin/facetransfer" verify "$WORK/out/result.mp4"
    "$ROOT/.venv/bin/facetransfer" info "$WORK/out/result.mp4"
fi
echo "container drill: passed" >&2
