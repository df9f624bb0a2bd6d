//! `cargo xtask`: maintenance tasks for the jira-ops workspace, in Rust so they run wherever
//! cargo does (matklad's xtask pattern). Nothing here is needed at run time.
//!
//! ```text
//! cargo xtask ci      # fmt check, clippy -D warnings, the whole test suite, the docs,
//!                     # then bench and soak in quick mode (installs redis-server, postgresql,
//!                     # python3-venv and npm when missing and run as root)
//! cargo xtask bench   # every end-to-end scenario beside its baseline -> docs/BENCHMARKS.md
//! cargo xtask soak    # the reliability matrix -> docs/RELIABILITY.md
//! cargo xtask man     # manual pages from the command line -> target/man/man1
//! ```

use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};

mod proof;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci      check formatting, run clippy with -D warnings, run every test
          (unit, integration over HTTP against jira-sim, a real redis-server and PostgreSQL,
          end to end, doc tests), build the docs with -D warnings, then run
          bench and soak in quick mode; installs redis-server, postgresql, python3-venv and
          npm first when they are missing and it runs as root
  bench [--quick] [--check] [--only N]
          the end-to-end benchmarks, each beside its baseline, in one run:
          target/bench/report.json, and (full mode) docs/BENCHMARKS.md.
          Fails when a correctness figure misses; with --check, also when a
          speed or memory target misses. Full mode takes about 17 minutes on
          a 2-core machine (docs/BENCHMARKS.md records the last run's time).
  soak [--quick] [--check] [--only CELL]
          the reliability matrix (faults, crash, contention, load, secrets):
          target/soak/report.json, and (full mode) docs/RELIABILITY.md. Fails
          when any cell misses. Full mode takes about 11 minutes on a 2-core
          machine (docs/RELIABILITY.md records the last run's time).
  man [DIR]
          the manual pages of `jira-ops` and each of its commands, made
          from the clap tree (clap_mangen), into DIR (default
          target/man/man1): `man -M target/man jira-ops-sync`
  help    show this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&args[1..]),
        Some("bench") => root().and_then(|root| proof::bench(&root, &args[1..])),
        Some("soak") => root().and_then(|root| proof::soak(&root, &args[1..])),
        Some("man") => man(&args[1..]),
        Some("help" | "-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown task {other:?} (run `cargo xtask help` for the list)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask man [DIR]`: the binary writes its own pages (`jira-ops man --dir`), so
/// they are made from the very clap tree it parses with.
fn man(args: &[String]) -> anyhow::Result<()> {
    let dir = match args {
        [] => root()?.join("target/man/man1"),
        [dir] => std::path::PathBuf::from(dir),
        _ => bail!("`cargo xtask man` takes at most one directory, got {args:?}"),
    };
    let dir = dir
        .to_str()
        .context("the directory is not UTF-8")?
        .to_owned();
    run(
        "man",
        &[
            "run",
            "--quiet",
            "-p",
            "jira-ops-cli",
            "--bin",
            "jira-ops",
            "--",
            "man",
            "--dir",
            &dir,
        ],
    )
}

/// The whole gate, in the order that fails fastest.
fn ci(extra: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = extra.first() {
        bail!("`cargo xtask ci` takes no arguments, got {unknown:?}");
    }
    let started = Instant::now();
    ensure_redis_server()?;
    ensure_postgres()?;
    ensure_python_venv()?;
    ensure_packages(
        "node and npm",
        has_program("node") && has_program("npm"),
        &["nodejs", "npm"],
    )?;
    run("format", &["fmt", "--all", "--check"])
        .context("code is not formatted: run `cargo fmt --all` and commit the result")?;
    run(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("tests", &["test", "--workspace", "--all-targets"])?;
    run("doc tests", &["test", "--workspace", "--doc"])?;
    // Broken intra-doc links and malformed docs fail the build, as warnings do elsewhere.
    run_with_env(
        "docs",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    let root = root()?;
    proof::bench(&root, &["--quick".to_owned()])?;
    proof::soak(&root, &["--quick".to_owned()])?;
    println!("xtask ci: all checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// The Redis tests start their own `redis-server`. A fresh machine has none: install
/// Debian's package when we can (root with apt-get), otherwise stop with the one line that
/// fixes it. Never skip those tests.
pub(crate) fn ensure_redis_server() -> anyhow::Result<()> {
    ensure_packages(
        "redis-server",
        has_program("redis-server"),
        &["redis-server"],
    )?;
    // Debian starts a system service on install; the tests run their own servers.
    let _ = Command::new("service")
        .args(["redis-server", "stop"])
        .status();
    if !has_program("redis-server") {
        bail!("redis-server is still missing after apt-get install; install it by hand");
    }
    Ok(())
}

/// The PostgreSQL sink's tests start their own server (`initdb` into a temporary
/// directory, jira-ops-tests' `postgres.rs`). Debian's package puts the programs in
/// `/usr/lib/postgresql/<version>/bin`, where the tests look for them too.
fn ensure_postgres() -> anyhow::Result<()> {
    let installed = || {
        has_program("initdb")
            || std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .any(|version| version.path().join("bin/initdb").is_file())
    };
    ensure_packages("PostgreSQL", installed(), &["postgresql"])?;
    // Debian starts a cluster on install; the tests run their own servers.
    let _ = Command::new("service")
        .args(["postgresql", "stop"])
        .status();
    if !installed() {
        bail!("PostgreSQL is still missing after apt-get install; install it by hand");
    }
    Ok(())
}

/// The third-party client tests make a Python virtual environment (jira-sim's
/// `tests/it/clients.rs`, `crates/jira-proxy/tests`); install `python3` and its `venv` module when missing.
fn ensure_python_venv() -> anyhow::Result<()> {
    let works = || {
        Command::new("python3")
            .args(["-m", "venv", "--help"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    ensure_packages(
        "python3 with venv",
        works(),
        &["python3", "python3-venv", "python3-pip"],
    )?;
    if !works() {
        bail!("python3 -m venv still fails after apt-get install; install python3-venv by hand");
    }
    Ok(())
}

/// Installs Debian `packages` unless `present`; a clear stop when this is not root.
fn ensure_packages(what: &str, present: bool, packages: &[&str]) -> anyhow::Result<()> {
    if present {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(is_root && has_program("apt-get")) {
        bail!(
            "{what} is missing and is needed by the tests: install it (e.g. `sudo apt-get install -y {}`) and run `cargo xtask ci` again",
            packages.join(" ")
        );
    }
    println!("xtask ci: {what} is missing; installing Debian's packages");
    let mut install = vec!["install", "-y", "-q"];
    install.extend_from_slice(packages);
    for args in [&["update", "-q"][..], &install[..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("could not run apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install {what} by hand",
                args.join(" ")
            );
        }
    }
    Ok(())
}

fn has_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// The workspace root.
fn root() -> anyhow::Result<std::path::PathBuf> {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .context("xtask lives in the workspace root")
}

/// Runs `cargo <args>` in the workspace root, streaming its output.
pub(crate) fn run(step: &str, args: &[&str]) -> anyhow::Result<()> {
    run_with_env(step, args, &[])
}

/// As [`run`], with extra environment variables.
fn run_with_env(step: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = root()?;
    println!("xtask: {step}: cargo {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(&root)
        .status()
        .with_context(|| format!("could not start {cargo}"))?;
    if !status.success() {
        bail!(
            "{step} failed (cargo {} exited with {status})",
            args.join(" ")
        );
    }
    println!("xtask: {step}: ok in {:.0?}", started.elapsed());
    Ok(())
}
