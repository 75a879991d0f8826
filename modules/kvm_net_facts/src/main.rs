fn main() {
    kvmnet_core::run::main::<kvm_net_facts::KvmNetFacts>()
}
