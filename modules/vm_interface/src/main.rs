fn main() {
    kvmnet_core::run::main::<vm_interface::VmInterface>()
}
