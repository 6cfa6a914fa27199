#!/bin/sh
# Entry point of the facetransfer container image.
#
# Prints what the container found (PyTorch, GPUs, CPU cores, memory: `facetransfer info`) on stderr,
# then runs `facetransfer ARGS...`. A first argument that is bash, sh, python, python3, torchrun or an
# absolute path is run as it is instead (`docker run IMAGE torchrun ... -m facetransfer train ...`,
# `docker run -it IMAGE bash`); any other word is a facetransfer command, even where a program of
# that name exists (ImageMagick's `convert`, GNU `info`).
# FACETRANSFER_QUIET_START=1 leaves the machine description out.
set -eu

if [ "${FACETRANSFER_QUIET_START:-0}" != "1" ]; then
    facetransfer info >&2 || echo "facetransfer-entrypoint: the machine could not be described" >&2
fi
case "${1:-}" in
    bash | sh | python | python3 | torchrun | /*) exec "$@" ;;
esac
exec facetransfer "$@"
