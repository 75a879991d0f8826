# shellcheck shell=bash
# The CPU architectures kvmnet builds its module binaries for, by their
# `uname -m` names: the collection ships plugins/modules/<name>_<arch> for
# each. Sourced by the build, docs and test scripts; the action plugin
# (collection/plugins/plugin_utils/binary_module.py) finds what shipped.
# Env: KVMNET_ARCHES to build a subset ("x86_64" for a quick local build).
read -r -a kvmnet_arches <<<"${KVMNET_ARCHES:-x86_64 aarch64}"
