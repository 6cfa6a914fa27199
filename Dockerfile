# facetransfer in a container: `facetransfer` is the entry point, work folders live on the /work volume.
#
# GPU image (the default; PyTorch's wheels carry their own CUDA libraries, the base image brings the
# driver hooks of the NVIDIA container toolkit):
#     docker build -t facetransfer:gpu .
#     docker run --gpus all -v "$PWD:/work" facetransfer:gpu swap source.mp4 target.mp4 -o result.mp4 ...
# CPU image:
#     docker build -t facetransfer:cpu --build-arg BASE_IMAGE=python:3.11-slim-bookworm \
#         --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu .
# Any Debian/Ubuntu image with Python 3.11 or 3.12 (or apt to install it) can be the base; see
# docs/CLOUD.md and tools/container_drill.sh (an image built from a locally made Debian base).
ARG BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04
FROM ${BASE_IMAGE}

# The torch the Makefile pins (a test checks they agree); TORCH_INDEX: a wheel index for another
# build of it (the CPU-only one is ten times smaller than PyPI's CUDA build).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=
# Set by tools/container_drill.sh to install from a local wheel mirror; unset, pip uses PyPI.
ARG PIP_FIND_LINKS
ARG PIP_EXTRA_INDEX_URL
ARG PIP_CONSTRAINT
ARG PIP_CERT

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/facetransfer/venv/bin:$PATH

# (Docker-format images keep SHELL; the steps also chain with && for builders that do not.)
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]

# Python with venv: from the base image when it has it, else from its distribution.
# hadolint ignore=DL3008
RUN if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c "import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), sys.version"

# The same steps as the README's `make venv`, without the development tools: torch first and
# pinned (TORCH_VERSION, which hadolint cannot read), then the pinned requirements, then the
# packages whose declared dependencies are wrong.
COPY requirements.txt requirements-nodeps.txt /opt/facetransfer/build/
# hadolint ignore=DL3013
RUN python3 -m venv /opt/facetransfer/venv \
    && pip install "setuptools==84.2.1" \
    && pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "torch==${TORCH_VERSION}" \
    && pip install -r /opt/facetransfer/build/requirements.txt \
    && pip install --no-deps -r /opt/facetransfer/build/requirements-nodeps.txt

COPY pyproject.toml README.md /opt/facetransfer/build/
COPY src /opt/facetransfer/build/src
RUN pip install --no-deps --no-build-isolation /opt/facetransfer/build \
    && rm -rf /opt/facetransfer/build \
    && facetransfer --version

COPY deploy/entrypoint.sh /usr/local/bin/facetransfer-entrypoint

# A user of its own (uid 1000, the usual first user of a host, so files on /work stay the user's;
# Ubuntu images already name uid 1000 "ubuntu"). Signing keys and caches live on the volume, so a
# new container signs with the same key.
RUN if getent passwd 1000 >/dev/null; then userdel --remove "$(getent passwd 1000 | cut -d: -f1)"; fi \
    && useradd --create-home --uid 1000 --shell /bin/sh facetransfer \
    && mkdir -p /work \
    && chown facetransfer:facetransfer /work
ENV XDG_CONFIG_HOME=/work/.facetransfer/config \
    XDG_CACHE_HOME=/work/.facetransfer/cache \
    MPLCONFIGDIR=/tmp/matplotlib
USER 1000:1000
# /work is where a host folder is mounted (-v "$PWD:/work"); no VOLUME instruction, which would
# leave an anonymous volume behind each run and hide a bind mount from `buildah run`.
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/facetransfer-entrypoint"]
CMD ["--help"]
