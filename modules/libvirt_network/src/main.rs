fn main() {
    kvmnet_core::run::main::<libvirt_network::LibvirtNetwork>()
}
