//! hog: a memory and CPU stress tool for wasmkube's resource limits lab, modelled on
//! vish/stress (the image the Kubernetes lab runs) and taking the same flags.

mod cpu;
mod duration;
mod flags;
mod memory;
mod quantity;
mod stress;

use std::process::ExitCode;

use flags::{Command, USAGE};

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    match flags::parse_arguments(&arguments) {
        Ok(Command::Help) => {
            eprint!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(settings)) => stress::run(&settings),
        Err(error) => {
            eprintln!("{error}");
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
