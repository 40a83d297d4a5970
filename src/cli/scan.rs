//! `mailsetup scan FILE`: wiring only. Opens the input and output, makes
//! the progress bar, stops on Ctrl-C, and runs [`mailsetup::scan::run`].

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use mailsetup::scan::{self, Progress, ScanOptions, resume::LineSet};

use super::args::{Global, ScanArgs};
use super::{Fatal, Outcome};

/// Runs `scan`.
pub fn run(a: ScanArgs, g: &Global) -> Result<Outcome, Fatal> {
    if g.offline && a.audit {
        return Err(Fatal(
            "--audit asks each domain's servers: drop --offline".into(),
        ));
    }
    let (input, size): (Box<dyn BufRead + Send>, Option<u64>) = if a.file.as_os_str() == "-" {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let f = File::open(&a.file)
            .map_err(|e| Fatal::msg(format!("cannot open {}: {e}", a.file.display())))?;
        let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(BufReader::with_capacity(64 * 1024, f)), size)
    };
    let mut done = LineSet::default();
    let mut json = g.json;
    let out: Box<dyn Write + Send> = match (&a.resume, &a.output) {
        (Some(path), _) => {
            let (d, file) = scan::resume::open(path)
                .map_err(|e| Fatal::msg(format!("cannot resume {}: {e}", path.display())))?;
            done = d;
            json = true;
            Box::new(file)
        }
        (None, Some(path)) => Box::new(
            File::create(path)
                .map_err(|e| Fatal::msg(format!("cannot write {}: {e}", path.display())))?,
        ),
        (None, None) => Box::new(std::io::stdout()),
    };
    let opts = ScanOptions {
        lookup: g.options(),
        jobs: a.jobs.map_or_else(scan::default_jobs, |j| j as usize),
        per_host: a.per_host,
        shard: a.shard,
        audit: a.audit,
        json,
        done,
    };
    let bar = progress_bar(g.verbose, size);
    let progress = bar.clone().map(|pb| {
        let started = Instant::now();
        Arc::new(move |p: Progress| {
            if size.is_some() {
                pb.set_position(p.bytes);
            } else {
                pb.tick();
            }
            let rate = p.done as f64 / started.elapsed().as_secs_f64().max(0.001);
            pb.set_message(format!(
                "{} done, {rate:.0}/s, {} ok, {} not found or failed",
                p.done, p.ok, p.failed
            ));
        }) as scan::ProgressFn
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let summary = rt.block_on(scan::run(input, out, opts, progress, stop));
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    rt.shutdown_background();
    let summary = summary?;
    if summary.interrupted {
        let again = match &a.resume {
            Some(_) => "run the same command again to go on".to_string(),
            None if a.output.is_some() => format!(
                "go on with --resume {}",
                a.output
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            None => "save the output to a file and go on with --resume FILE".into(),
        };
        return Err(Fatal::msg(format!(
            "stopped after {} entries; {again}",
            summary.entries + summary.malformed
        )));
    }
    Ok(Outcome::Success)
}

/// A bar with the share of the input read, rate and ETA on a terminal
/// (a counter for standard input); nothing when stderr is not a terminal
/// or `-v` narrates.
fn progress_bar(verbose: bool, size: Option<u64>) -> Option<indicatif::ProgressBar> {
    if verbose || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = match size {
        Some(n) => {
            let pb = indicatif::ProgressBar::new(n);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {percent:>3}% {msg}, ETA {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        }
        None => indicatif::ProgressBar::new_spinner(),
    };
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(pb)
}
