//! The smallest wasmkube guest: it greets, then prints each of its arguments on a line
//! of its own, so that a test can see both that it ran and what argv it was given.

fn main() {
    println!("Hello from wasmkube!");
    for argument in std::env::args_os().skip(1) {
        println!("{}", argument.to_string_lossy());
    }
}
