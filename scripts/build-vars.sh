# shellcheck shell=bash
# What the collection is built from, for the build, docs and test scripts
# (sourced from the repository root):
#   kvmnet_modules  the module crates: modules/<name>/src/main.rs
#                   (modules/core is a library); exits when there are none
#   kvmnet_arches   the CPU architectures the binaries are built for, by
#                   their `uname -m` names: the collection ships
#                   binaries/<name>_<arch> for each. The action plugin
#                   (collection/plugins/plugin_utils/binary_module.py)
#                   finds what shipped.
# Env: KVMNET_ARCHES to build a subset ("x86_64" for a quick local build).
# shellcheck disable=SC2034  # used by the scripts that source this
read -r -a kvmnet_arches <<<"${KVMNET_ARCHES:-x86_64 aarch64}"
kvmnet_modules=()
for _main in modules/*/src/main.rs; do
  _crate=${_main%/src/main.rs}
  kvmnet_modules+=("${_crate#modules/}")
done
unset _main _crate
[ ${#kvmnet_modules[@]} -gt 0 ] ||
  { echo "$(basename "$0"): no modules found under modules/*/src/main.rs (run from the repository root)" >&2; exit 1; }
