//! `make check-gpu`: prints what libtorch sees. On a GPU machine it must say "CUDA available".
fn main() {
    println!("{}", lstm_support::device::describe());
    println!("tch::Cuda::is_available() = {}", tch::Cuda::is_available());
}
