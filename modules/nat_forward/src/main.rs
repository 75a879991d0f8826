fn main() {
    nat_forward::main()
}
