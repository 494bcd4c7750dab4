//! testbox: a busybox-like toolbox guest that tests run to poke at the pod sandbox. The
//! first argument names the applet, the rest are its arguments. Results go to stdout,
//! errors to stderr; a wrong call exits with 2 and a failed one with 1.

mod arguments;
mod cpu;
mod datagrams;
mod escape;
mod files;
mod memory;
mod network;
mod process;
mod tls;

use std::process::ExitCode;

use arguments::AppletError;

/// An applet: its arguments in, its exit code out.
type Applet = fn(&[String]) -> Result<ExitCode, AppletError>;

/// Every applet by name, in the order the usage lists them.
const APPLETS: [(&str, Applet); 28] = [
    ("echo", process::echo),
    ("env", process::env),
    ("pwd", process::pwd),
    ("exit", process::exit),
    ("exit-with-code", process::exit_with_code),
    ("copy-stdin", process::copy_stdin),
    ("sleep", process::sleep),
    ("sleep-forever", process::sleep_forever),
    ("write", files::write),
    ("append", files::append),
    ("cat", files::cat),
    ("ls", files::ls),
    ("wait-for", files::wait_for),
    ("spin", cpu::spin),
    ("spin-for", cpu::spin_for),
    ("spin-then-sleep", cpu::spin_then_sleep),
    ("spin-count", cpu::spin_count),
    ("hash-count", cpu::hash_count),
    ("alloc", memory::alloc),
    ("memory-bomb", memory::memory_bomb),
    ("escape", escape::escape),
    ("tcp-sink", network::tcp_sink),
    ("tcp-source", network::tcp_source),
    ("udp-echo", datagrams::udp_echo),
    ("udp-ask", datagrams::udp_ask),
    ("tls-hello", tls::tls_hello),
    ("help", help),
    ("--help", help),
];

/// The exit code of a wrong call.
const USAGE_EXIT_CODE: u8 = 2;

/// The exit code of an applet whose work failed.
const FAILURE_EXIT_CODE: u8 = 1;

fn main() -> ExitCode {
    let mut arguments = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned());
    let Some(applet_name) = arguments.next() else {
        eprintln!("testbox: no applet given\n{USAGE}");
        return ExitCode::from(USAGE_EXIT_CODE);
    };
    let applet_arguments: Vec<String> = arguments.collect();
    let Some((_, applet)) = APPLETS.iter().find(|(name, _)| *name == applet_name) else {
        eprintln!("testbox: unknown applet {applet_name:?}\n{USAGE}");
        return ExitCode::from(USAGE_EXIT_CODE);
    };
    match applet(&applet_arguments) {
        Ok(exit_code) => exit_code,
        Err(error @ AppletError::Usage(_)) => {
            eprintln!("testbox {applet_name}: {error}");
            ExitCode::from(USAGE_EXIT_CODE)
        }
        Err(error @ AppletError::Failed(_)) => {
            eprintln!("testbox {applet_name}: {error}");
            ExitCode::from(FAILURE_EXIT_CODE)
        }
    }
}

/// `help`: lists the applets.
fn help(_arguments: &[String]) -> Result<ExitCode, AppletError> {
    println!("{USAGE}");
    Ok(ExitCode::SUCCESS)
}

/// The usage text, one applet per line.
const USAGE: &str = "usage: testbox APPLET [ARGUMENTS...]
applets:
  echo ARGS...                    print the arguments joined by spaces
  env                             print the environment as sorted K=V lines
  pwd                             print the current directory
  exit N                          exit with code N
  exit-with-code N                exit with code N (0-255) through wasi:cli/exit-with-code
  copy-stdin                      copy standard input to standard output until its end
  sleep SECONDS                   sleep (fractions allowed), then exit 0
  sleep-forever                   sleep until stopped
  write PATH TEXT                 create or truncate PATH with TEXT
  append PATH TEXT                append TEXT to PATH
  cat PATH                        print PATH
  ls PATH                         list PATH, sorted
  wait-for PATH TIMEOUT_SECONDS   wait until PATH exists (exit 1 on timeout)
  spin                            loop forever without calling the host
  spin-for SECONDS                burn CPU, then print the iteration count
  spin-then-sleep SECONDS         burn CPU for that long, then sleep until stopped
  spin-count ITERATIONS           burn CPU for that many iterations, then print them
  hash-count ROUNDS               hash a 4 KiB buffer that many times, print the hash
  alloc MEBIBYTES                 allocate and touch that much memory, then exit 0
  memory-bomb                     allocate memory until stopped
  escape DIR                      try every way out of DIR (exit 3 if one works)
  tcp-sink PORT                   read one connection on 127.0.0.1:PORT, print bytes and time
  tcp-source ADDRESS:PORT MIB     send MIB mebibytes to ADDRESS:PORT, print bytes and time
  udp-echo PORT                   answer every UDP datagram on PORT with its own bytes
  udp-ask ADDRESS MESSAGE         send MESSAGE over UDP to ADDRESS, print the answer
  tls-hello HOST:PORT NAME        offer TLS 1.2 to HOST:PORT for NAME, print the ServerHello and certificate";
