fn main() {
    kvmnet_core::run::main::<netplan_bridge::NetplanBridge>()
}
