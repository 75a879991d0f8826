fn main() {
    kvmnet_core::run::main::<netplan_bond::NetplanBond>()
}
