fn main() {
    kvmnet_core::run::main::<sriov_vfs::SriovVfs>()
}
